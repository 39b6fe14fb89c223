"""``models``: list the ACE-Step 1.5 models under one or more checkpoint roots."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", action="append", required=True, metavar="DIR",
                        help="a checkpoint root (repeatable)")
    parser.add_argument("--base-model", help="the base of a custom fine-tune: turbo, base, sft or a folder name")
    parser.add_argument("--json", action="store_true", help="print one JSON object per model")


def run(args: argparse.Namespace) -> int:
    from acestep_train.models.discovery import discover_models

    models = discover_models(args.checkpoint_dir, base_model=args.base_model)
    if not models:
        print(f"no ACE-Step 1.5 models found under {', '.join(args.checkpoint_dir)}")
        return 1
    for model in models:
        if args.json:
            print(json.dumps({
                "name": model.name,
                "path": str(model.path),
                "layout": model.layout,
                "variant": model.variant.name,
                "official": model.variant.official,
                "variant_evidence": model.variant.evidence,
                "parameters": model.parameters,
                "dtypes": list(model.dtypes),
                "missing": list(model.missing),
                "problems": list(model.problems),
            }))
        else:
            print(model.describe())
    return 0 if all(model.usable for model in models) else 1
