"""Scanning speed: seconds per 1,000 generated songs (header probe, silence check, sidecars).

    python -m bench.scan [--files 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def make_files(folder: Path, count: int, seconds: float) -> None:
    import numpy as np
    import soundfile

    rng = np.random.default_rng(0)
    for index in range(count):
        audio = (0.1 * rng.standard_normal((int(seconds * 48000), 2))).astype("float32")
        fmt = "FLAC" if index % 2 else "WAV"
        path = folder / f"song_{index:05d}.{fmt.lower()}"
        soundfile.write(path, audio, 48000, format=fmt)
        if index % 3 == 0:
            (folder / f"song_{index:05d}.json").write_text(json.dumps({"caption": f"song {index}", "bpm": 120}))


def main(argv: list[str] | None = None) -> dict:
    from acestep_train.dataset import scan_folder
    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each generated song")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_files(folder, args.files, args.seconds)
        start = time.perf_counter()
        samples = scan_folder(folder)
        elapsed = time.perf_counter() - start
    figures = {"files": args.files, "song_seconds": args.seconds, "scan_seconds": round(elapsed, 3),
               "seconds_per_1000_files": round(elapsed * 1000 / args.files, 3),
               "usable": sum(s.usable for s in samples), "labeled": sum(s.labeled for s in samples)}
    print(json.dumps(figures))
    write_result("scan", figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
