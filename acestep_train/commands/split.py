"""``split``: cut long songs into N-second segments (tails under 10 s dropped), sidecars carried."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-dir", required=True, metavar="DIR")
    parser.add_argument("--output-dir", required=True, metavar="DIR")
    parser.add_argument("--seconds", type=float, default=30.0, help="segment length (30 or 60 are typical)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.dataset.split import split_folder

    results, failed = split_folder(Path(args.audio_dir), Path(args.output_dir), args.seconds)
    for result in results:
        print(f"{result.source.name}: {len(result.segments)} segments, {result.dropped_tail_seconds:.1f}s tail dropped")
    for path, reason in failed:
        print(f"skipped {path}: {reason}")
    print(f"{sum(len(r.segments) for r in results)} segments from {len(results)} songs; {len(failed)} skipped")
    return 0 if results else 1
