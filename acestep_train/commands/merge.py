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


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.export.load import load_adapter
    from acestep_train.export.merge import merge_into_original
    from acestep_train.models import find_model

    info = find_model(args.checkpoint_dir, args.model_variant, args.base_model)
    adapter = load_adapter(args.adapter)
    out = merge_into_original(info, adapter, args.strength, Path(args.output_dir))
    print(f"merged {len(adapter.modules)} modules of {args.adapter} into {info.name} at strength "
          f"{args.strength}: {out} (every merged weight read back and checked)")
    return 0
