"""``merge``: bake an adapter into the base weights; writes a full model in the original layout."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", required=True, action="append", metavar="DIR")
    parser.add_argument("--model-variant", required=True, help="turbo, base, sft or a folder name")
    parser.add_argument("--base-model", help="the base of a custom fine-tune")
    parser.add_argument("--adapter", required=True, metavar="PATH")
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--output-dir", required=True, metavar="DIR")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier merge of another adapter in that folder; files the studio did not "
                             "write there are moved to <folder>.replaced-<time>/ beside it")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.export.load import load_adapter
    from acestep_train.export.merge import merge_identity, merge_into_original
    from acestep_train.export.model_check import check_shapes
    from acestep_train.export.output_folder import check_output, moved_note
    from acestep_train.models import find_model

    info = find_model(args.checkpoint_dir, args.model_variant, args.base_model)
    adapter = load_adapter(args.adapter)
    check_shapes(adapter, info)  # both checks before anything is written; their ValueErrors are one clear line
    plan = check_output(Path(args.output_dir), merge_identity(adapter, info, args.strength), args.overwrite,
                        "merged model")
    out = merge_into_original(info, adapter, args.strength, Path(args.output_dir), plan=plan)
    print(f"merged {len(adapter.modules)} modules of {args.adapter} into {info.name} at strength "
          f"{args.strength}: {out} (every merged weight read back and checked){moved_note(plan)}")
    return 0
