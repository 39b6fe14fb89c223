"""``analyze-audio``: BPM, key and duration of audio files (librosa, no model)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from acestep_train.audio import AudioError
    from acestep_train.dataset.analysis import analyze

    failures = 0
    for name in args.files:
        try:
            result = analyze(name)
        except (AudioError, OSError) as error:
            failures += 1
            print(json.dumps({"file": Path(name).name, "error": str(error)}) if args.json else f"{name}: {error}")
            continue
        if args.json:
            print(json.dumps({"file": Path(name).name, "bpm": result.bpm, "key": result.key,
                              "duration": result.duration}))
        else:
            print(f"{Path(name).name}\tbpm {result.bpm}\tkey {result.key}\t{result.duration:.1f}s")
    return 1 if failures else 0
