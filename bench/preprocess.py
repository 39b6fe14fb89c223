"""Preprocessing throughput on CPU with the tiny model: songs per minute, audio seconds per second,
decode/resample time separated from model time, CPU time (user, system) and page faults.

    python -m bench.preprocess [--songs 8] [--seconds 30] [--glibc-defaults]

``--glibc-defaults`` runs without ``reuse_freed_memory`` (acestep_train/cpu_memory.py): the
figures from before that fix, for a side-by-side comparison on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    import numpy as np
    import soundfile

    from acestep_train.models import find_model
    from acestep_train.models.tiny import write_demo_model
    from acestep_train.preprocess.audio_input import decode_for_model
    from acestep_train.preprocess.plan import PreprocessItem, PreprocessSettings
    from acestep_train.preprocess.runner import PreprocessJob
    from acestep_train.prompts import SongText
    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--glibc-defaults", action="store_true", help="without reuse_freed_memory (before the fix)")
    args = parser.parse_args(argv)
    if args.glibc_defaults:
        import acestep_train.preprocess.runner as runner

        runner.reuse_freed_memory = contextlib.nullcontext
    decode_time = [0.0]

    def timed_decode(path, max_seconds, mode):
        start = time.perf_counter()
        audio = decode_for_model(path, max_seconds, mode)
        decode_time[0] += time.perf_counter() - start
        return audio

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_demo_model(root / "model", "original", ("turbo",))
        rng = np.random.default_rng(0)
        items = []
        for index in range(args.songs):
            path = root / f"song{index}.flac"  # 44.1 kHz: decode + resample, as most user files need
            soundfile.write(path, (0.1 * rng.standard_normal((int(args.seconds * 44100), 2))).astype("float32"), 44100)
            items.append(PreprocessItem(f"song{index}", path, SongText(f"song {index}", "[Verse]\nla la")))
        job = PreprocessJob(find_model([root / "model"], "turbo"), PreprocessSettings(), root / "out", timed_decode,
                            device="cpu")
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        summary = job.run(items)
        total, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    audio_seconds = args.songs * args.seconds
    figures = {"songs": args.songs, "song_seconds": args.seconds, "done": len(summary.done),
               "total_seconds": round(total, 2), "decode_resample_seconds": round(decode_time[0], 2),
               "model_and_io_seconds": round(total - decode_time[0], 2),
               "songs_per_minute": round(args.songs / total * 60, 1),
               "audio_seconds_per_second": round(audio_seconds / total, 1),
               "glibc_defaults": args.glibc_defaults, **cpu_figures(before, after, args.songs)}
    print(json.dumps(figures))
    write_result("preprocess_tiny_cpu" + ("_glibc_defaults" if args.glibc_defaults else ""), figures,
                 args.results_dir)
    return figures


def cpu_figures(before, after, songs: int) -> dict:
    """User and system CPU seconds (all threads), minor page faults and context switches of the run."""
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"user_cpu_seconds": round(user, 2), "system_cpu_seconds": round(system, 2),
            "cpu_seconds_per_song": round((user + system) / songs, 2),
            "minor_page_faults": after.ru_minflt - before.ru_minflt,
            "involuntary_context_switches": after.ru_nivcsw - before.ru_nivcsw,
            "peak_rss_mb": round(after.ru_maxrss / 1024)}


if __name__ == "__main__":
    main()
