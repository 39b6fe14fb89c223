"""UI responsiveness: seconds from ``python launch.py`` to the first HTTP response (and that time as a ratio
to a bare Gradio Blocks app started the same way on the same machine; goal <= 1.3), and to show a dataset
of N songs in the Dataset tab: the scan endpoint's round trip through the API and, with Debian's
Chromium present, in a real browser (click Scan until the table and its summary are on screen).

The start ratio is the median over ``--starts`` rounds; each round starts the bare app and the studio
once, alternating which goes first, so a load change on a shared machine hits both sides alike; the
figures give the ratios' spread (quartiles and range) beside the median.

    python -m bench ui_start [--songs 1000] [--starts 7] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
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


def first_response_of(command: list[str], port: int) -> float:
    """Seconds from starting ``command`` (a server on ``port``) to its first HTTP response; then it is ended."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        return first_response(port, started)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def studio_command(scratch: Path, port: int) -> list[str]:
    return [sys.executable, str(REPO / "launch.py"), "--port", str(port), "--checkpoint-dir", str(scratch / "ck"),
            "--root", str(scratch / "data")]


def start_rounds(scratch: Path, rounds: int) -> dict:
    """``rounds`` interleaved starts of the bare app and the studio: the median ratio and its spread."""
    bare, studio = [], []
    for index in range(rounds):
        sides = [("bare", lambda port: [sys.executable, str(REPO / "bench" / "bare_app.py"), str(port)]),
                 ("studio", lambda port: studio_command(scratch, port))]
        for name, command in sides if index % 2 == 0 else reversed(sides):
            port = free_port()
            (bare if name == "bare" else studio).append(first_response_of(command(port), port))
    ratios = sorted(s / b for s, b in zip(studio, bare))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return {"start_to_first_response_s": round(statistics.median(studio), 2),
            "bare_gradio_first_response_s": round(statistics.median(bare), 2),
            "start_ratio_to_bare_gradio": round(statistics.median(ratios), 3),
            "start_ratio_iqr": [round(quartiles[0], 3), round(quartiles[2], 3)],
            "start_ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)], "start_rounds": rounds,
            "start_ratio_goal": 1.3}


def write_songs(folder: Path, count: int) -> None:
    import numpy as np
    import soundfile

    from acestep_train.dataset.scan import TRAIN_MIN_SECONDS

    folder.mkdir(parents=True)
    rate = 16000  # mono 16 kHz keeps 1,000 songs long enough to train on (> TRAIN_MIN_SECONDS) near 350 MB
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(rate * (TRAIN_MIN_SECONDS + 1)))).astype("float32")
    for index in range(count):
        soundfile.write(folder / f"song_{index:04d}.wav", audio, rate, subtype="PCM_16")


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
    parser.add_argument("--starts", type=int, default=7, help="interleaved start rounds (the ratio is their median)")
    parser.add_argument("--no-browser", action="store_true", help="only the API round trip")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        songs = scratch / "data" / "songs"
        write_songs(songs, args.songs)
        starts = start_rounds(scratch, args.starts)
        port = free_port()
        started = time.monotonic()
        proc = subprocess.Popen(studio_command(scratch, port), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            first_response(port, started)
            client = Client(f"http://127.0.0.1:{port}", verbose=False)
            begin = time.monotonic()
            rows, _, summary = client.predict(str(songs), "caption", api_name="/scan")
            show_s = time.monotonic() - begin
            browser = {} if args.no_browser or not Path(CHROMIUM).exists() else in_browser(
                f"http://127.0.0.1:{port}", songs, args.songs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    figures = {**starts, "songs": args.songs, "show_dataset_s": round(show_s, 2), "rows": len(rows["data"]),
               "summary": summary, **browser}
    print(json.dumps(figures))
    write_result("ui_start", figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
