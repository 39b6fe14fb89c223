"""UI responsiveness: seconds from ``python launch.py`` to the first HTTP response, and to show a
dataset of N songs in the Dataset tab (the scan endpoint's round trip through the API).

    python -m bench ui_start [--songs 1000]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def main(argv: list[str] | None = None) -> dict:
    import numpy as np
    import soundfile
    from gradio_client import Client

    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        songs = Path(scratch) / "data" / "songs"
        songs.mkdir(parents=True)
        audio = (0.1 * np.random.default_rng(0).standard_normal((48000 * 3, 2))).astype("float32")
        for index in range(args.songs):
            soundfile.write(songs / f"song_{index:04d}.wav", audio, 48000)
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
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    figures = {"start_to_first_response_s": round(start_s, 2), "songs": args.songs,
               "show_dataset_s": round(show_s, 2), "rows": len(rows["data"]), "summary": summary}
    print(json.dumps(figures))
    write_result("ui_start", figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
