"""``dataset``: scan a folder of songs and their sidecars; print a table or write dataset.json."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-dir", required=True, metavar="DIR")
    parser.add_argument("--tag", default="", help="activation (trigger) word")
    parser.add_argument("--tag-position", choices=["prepend", "append", "replace"], default="prepend")
    parser.add_argument("--genre-ratio", type=float, default=0.0,
                        help="share of steps that train on the genre instead of the caption")
    parser.add_argument("--txt-mode", choices=["caption", "lyrics", "ignore"], default="caption",
                        help="what a plain {stem}.txt holds")
    parser.add_argument("--csv", metavar="F", help="a CSV of captions to merge in")
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--output", metavar="F", help="write dataset.json here")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.dataset import DatasetMeta, ScanOptions, save_dataset, scan_folder

    meta = DatasetMeta(Path(args.audio_dir).name, args.tag, args.tag_position, args.genre_ratio, args.txt_mode)
    samples = scan_folder(args.audio_dir, ScanOptions(args.txt_mode, args.min_seconds,
                                                      csv_path=Path(args.csv) if args.csv else None))
    for sample in samples:
        label = "labeled" if sample.labeled else "unlabeled"
        notes = f" ({'; '.join(sample.notes)})" if sample.notes else ""
        print(f"{sample.audio_path.name}\t{sample.duration:.1f}s\t{label}\t{sample.status}{notes}")
    usable = sum(sample.usable for sample in samples)
    print(f"{len(samples)} files, {usable} usable, {len(samples) - usable} unusable")
    if args.output:
        save_dataset(args.output, meta, samples)
        print(f"wrote {args.output}")
    return 0 if usable else 1
