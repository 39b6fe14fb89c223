"""``preprocess``: songs -> training tensors (or import other trainers' .pt tensors)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", required=True, action="append", metavar="DIR")
    parser.add_argument("--model-variant", required=True, help="turbo, base, sft or a folder name")
    parser.add_argument("--base-model", help="the base of a custom fine-tune")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio-dir", metavar="DIR", help="scan this folder (sidecars included)")
    source.add_argument("--dataset-json", metavar="F", help="a dataset.json (ours or another trainer's)")
    source.add_argument("--import-pt", metavar="DIR", help="convert .pt tensors made by other ACE-Step trainers")
    parser.add_argument("--output-dir", required=True, metavar="DIR")
    parser.add_argument("--two-pass", action="store_true", help="low VRAM: VAE + text encoder, then condition encoder")
    parser.add_argument("--max-duration", type=float, default=240.0, help="seconds; longer songs are truncated")
    parser.add_argument("--min-seconds", type=float, default=10.0,
                        help="shorter songs are skipped, named in the summary (default: ACE-Step 1.5's shortest song)")
    parser.add_argument("--normalize", choices=["peak", "lufs", "none"], default="peak")
    parser.add_argument("--tag", help="activation tag (overrides the dataset's)")
    parser.add_argument("--tag-position", choices=["prepend", "append", "replace"])
    parser.add_argument("--genre-ratio", type=float)
    parser.add_argument("--txt-mode", choices=["caption", "lyrics", "ignore"], default="caption")
    parser.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from acestep_train.events import EventLog
    from acestep_train.jobs import EXIT_PARTIAL

    from acestep_train.models import find_model
    from acestep_train.preprocess.audio_input import decode_for_model
    from acestep_train.preprocess.items import items_from_source
    from acestep_train.preprocess.plan import PreprocessSettings
    from acestep_train.preprocess.runner import PreprocessJob

    info = find_model(args.checkpoint_dir, args.model_variant, args.base_model)
    if args.import_pt:
        return import_pt(args, info)
    overrides = {"custom_tag": args.tag, "tag_position": args.tag_position, "genre_ratio": args.genre_ratio}
    items, unusable = items_from_source(args.audio_dir, args.dataset_json, overrides, args.txt_mode,
                                        args.min_seconds)
    settings = PreprocessSettings(max_duration=args.max_duration, normalize=args.normalize, two_pass=args.two_pass)
    summary = PreprocessJob(info, settings, Path(args.output_dir), decode_for_model, args.device, tqdm).run(items)
    summary.failed[:0] = unusable
    if unusable:  # the runner's summary knew only the songs it tried; the final word includes the unusable ones
        EventLog(Path(args.output_dir) / "events.jsonl").emit(
            "summary", done=len(summary.done), skipped=len(summary.skipped), removed=len(summary.removed),
            failed=summary.failed)
    for line in summary.lines():
        print(line)
    if summary.ready == 0:
        print("error: no sample was preprocessed; nothing to train on")
        return 1
    return EXIT_PARTIAL if summary.failed else 0  # finished, with some songs skipped (named in the summary)


def import_pt(args: argparse.Namespace, info) -> int:
    from pathlib import Path

    from acestep_train.preprocess.pt_import import import_pt_folder

    imported, refused = import_pt_folder(Path(args.import_pt), Path(args.output_dir), info)
    print(f"imported {len(imported)} samples, refused {len(refused)}")
    for path, reason in refused:
        print(f"  refused: {reason}")
    return 0 if imported and not refused else 1
