"""An idle studio page's cost: CPU seconds (user+sys) that headless Chromium and the studio's server burn,
and the requests the page sends, while the page sits on one tab doing nothing (the Jobs panel closed).

    python -m bench idle_cpu [--seconds 60] [--tab "5 · Train"]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def tree_cpu(pid: int) -> float:
    """User+sys CPU seconds of a process and its live descendants."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def chromium_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["name", "ppid"]) if p.info["name"] in ("chromium", "chrome")
            and psutil.Process(p.info["ppid"]).name() not in ("chromium", "chrome")]


def measure(url: str, server_pid: int, tab: str, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        before_pids = set(chromium_pids())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ours = [pid for pid in chromium_pids() if pid not in before_pids]
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name=tab).click()
        time.sleep(10)  # the page has settled
        posts = []
        page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
        browser_0, server_0, wall_0 = sum(map(tree_cpu, ours)), tree_cpu(server_pid), time.monotonic()
        time.sleep(seconds)
        browser_s, server_s = sum(map(tree_cpu, ours)) - browser_0, tree_cpu(server_pid) - server_0
        wall = time.monotonic() - wall_0
        browser.close()
    return {"tab": tab, "seconds": round(wall, 1), "chromium_cpu_s": round(browser_s, 2),
            "chromium_core_share": round(browser_s / wall, 3), "server_cpu_s": round(server_s, 2),
            "post_requests": len(posts)}


def main(argv: list[str] | None = None) -> dict:
    from bench.common import RESULTS, write_result
    from bench.ui_start import first_response, free_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tab", default="5 · Train")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(REPO / "launch.py"), "--port", str(port), "--demo",
                                 "--checkpoint-dir", str(Path(scratch) / "ck"), "--root", scratch],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            first_response(port, time.monotonic(), timeout=400)
            figures = measure(f"http://127.0.0.1:{port}", proc.pid, args.tab, args.seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(figures)
    write_result("idle_cpu", figures, args.results_dir)
    return figures
