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
    parser.add_argument("--hold-out", action="append", default=[], metavar="FILE",
                        help="mark this song (a file name in --audio-dir) for validation: never trained on when a "
                             "run validates (the Dataset tab's 'Hold out for validation'); repeat for more")
    parser.add_argument("--train-on", action="append", default=[], metavar="FILE",
                        help="remove the validation mark from this song")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.dataset import DatasetMeta, ScanOptions, save_dataset, scan_folder
    from acestep_train.dataset.holdout import set_holdout

    for names, held in ((args.hold_out, True), (args.train_on, False)):
        for name in names:
            changed = set_holdout(Path(args.audio_dir) / name, held, args.txt_mode)
            state = "held out for validation" if held else "trained on"
            print(f"{name}: {state}{'' if changed else ' (already)'}")
    meta = DatasetMeta(Path(args.audio_dir).name, args.tag, args.tag_position, args.genre_ratio, args.txt_mode)
    samples = scan_folder(args.audio_dir, ScanOptions(args.txt_mode, args.min_seconds,
                                                      csv_path=Path(args.csv) if args.csv else None))
    for sample in samples:
        label = "labeled" if sample.labeled else "unlabeled"
        notes = f" ({'; '.join(sample.notes)})" if sample.notes else ""
        held = "\theld out for validation" if sample.holdout else ""
        print(f"{sample.audio_path.name}\t{sample.duration:.1f}s\t{label}\t{sample.status}{notes}{held}")
    usable = sum(sample.usable for sample in samples)
    print(f"{len(samples)} files, {usable} usable, {len(samples) - usable} unusable")
    if args.output:
        save_dataset(args.output, meta, samples)
        print(f"wrote {args.output}")
    return 0 if usable else 1
