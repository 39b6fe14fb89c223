"""Scanning speed: seconds per 1,000 generated songs (header probe, silence check, sidecars).

    python -m bench.scan [--files 1000] [--seconds 10] [--repeats 5]

The folder is scanned ``--repeats`` times (files in the page cache, as after the first look at a
folder); wall and CPU seconds are the medians, with the spread, since other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_files(folder, args.files, args.seconds)
        for _ in range(args.repeats):
            before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            samples = scan_folder(folder)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    per_1000 = 1000 / args.files
    elapsed = statistics.median(walls)
    figures = {"files": args.files, "song_seconds": args.seconds, "repeats": args.repeats,
               "scan_seconds": round(elapsed, 3), "seconds_per_1000_files": round(elapsed * per_1000, 3),
               "wall_range_per_1000": [round(min(walls) * per_1000, 3), round(max(walls) * per_1000, 3)],
               "cpu_seconds_per_1000_files": round(statistics.median(cpus) * per_1000, 3),
               "usable": sum(s.usable for s in samples), "labeled": sum(s.labeled for s in samples)}
    print(json.dumps(figures))
    write_result("scan", figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
