"""``analyze-audio``: BPM, key, time signature and duration of audio files, each with a confidence
(librosa, no model)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="audio analysed per file, from its start (default 120; duration is the whole file's)")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from acestep_train.audio import AudioError
    from acestep_train.dataset.analysis import analyze

    if args.max_seconds <= 0:
        raise SystemExit(f"--max-seconds must be > 0, got {args.max_seconds}")
    failures = 0
    for name in args.files:
        try:
            result = analyze(name, args.max_seconds)
        except (AudioError, OSError) as error:
            failures += 1
            print(json.dumps({"file": Path(name).name, "error": str(error)}) if args.json else f"{name}: {error}")
            continue
        if args.json:
            print(json.dumps({"file": Path(name).name, **result.to_dict()}))
        else:
            print(f"{Path(name).name}\tbpm {result.bpm} ({result.bpm_confidence:.2f})\tkey {result.key} "
                  f"({result.key_confidence:.2f})\ttime signature {result.timesignature}/4 "
                  f"({result.timesignature_confidence:.2f})\t{result.duration:.1f}s")
    return 1 if failures else 0
