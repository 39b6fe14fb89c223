"""UI responsiveness: seconds from ``python launch.py`` to the first HTTP response (and that time as a ratio
to a bare Gradio Blocks app started the same way on the same machine; goal <= 1.3), and to show a dataset
of N songs in the Dataset tab: the scan endpoint's round trip through the API and, with Debian's
Chromium present, in a real browser (click Scan until the table and its summary are on screen).

    python -m bench ui_start [--songs 1000] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_response(port: int, started: float, timeout: float = 120) -> float:
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return time.monotonic() - started
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the UI never answered")


def bare_first_response(runs: int = 1) -> float:
    """The best of ``runs`` starts of ``bench/bare_app.py`` to its first response."""
    best = float("inf")
    for _ in range(runs):
        port = free_port()
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "bare_app.py"), str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            best = min(best, first_response(port, started))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return best


def write_songs(folder: Path, count: int) -> None:
    import numpy as np
    import soundfile

    folder.mkdir(parents=True)
    audio = (0.1 * np.random.default_rng(0).standard_normal((48000 * 3, 2))).astype("float32")
    for index in range(count):
        soundfile.write(folder / f"song_{index:04d}.wav", audio, 48000, subtype="PCM_16")


def in_browser(url: str, songs: Path, count: int) -> dict:
    """Page load to the tabs on screen; Scan click to the summary and the table's first row on screen."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        begin = time.monotonic()
        page.goto(url)
        page.get_by_role("tab", name="Dataset").wait_for()
        load_s = time.monotonic() - begin
        page.get_by_role("tab", name="Dataset").click()
        page.get_by_label("Song folder").first.fill(str(songs))
        begin = time.monotonic()
        page.get_by_role("button", name="Scan", exact=True).click()
        page.get_by_text(f"{count} files:").wait_for(timeout=300_000)
        page.get_by_text("song_0000.wav").filter(visible=True).first.wait_for(timeout=300_000)
        show_s = time.monotonic() - begin
        browser.close()
    return {"browser_page_load_s": round(load_s, 2), "browser_show_dataset_s": round(show_s, 2)}


def main(argv: list[str] | None = None) -> dict:
    from gradio_client import Client

    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--no-browser", action="store_true", help="only the API round trip")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        songs = Path(scratch) / "data" / "songs"
        write_songs(songs, args.songs)
        bare_s = bare_first_response()
        port = free_port()
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(REPO / "launch.py"), "--port", str(port), "--checkpoint-dir",
                                 str(Path(scratch) / "ck"), "--root", str(Path(scratch) / "data")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            start_s = first_response(port, started)
            client = Client(f"http://127.0.0.1:{port}", verbose=False)
            begin = time.monotonic()
            rows, _, summary = client.predict(str(songs), "caption", api_name="/scan")
            show_s = time.monotonic() - begin
            browser = {} if args.no_browser or not Path(CHROMIUM).exists() else in_browser(
                f"http://127.0.0.1:{port}", songs, args.songs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    figures = {"start_to_first_response_s": round(start_s, 2), "bare_gradio_first_response_s": round(bare_s, 2),
               "start_ratio_to_bare_gradio": round(start_s / bare_s, 2), "start_ratio_goal": 1.3, "songs": args.songs,
               "show_dataset_s": round(show_s, 2), "rows": len(rows["data"]), "summary": summary, **browser}
    print(json.dumps(figures))
    write_result("ui_start", figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
