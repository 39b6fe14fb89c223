"""``demo-model``: write the tiny random-init ACE-Step 1.5 stack used by tests and ``--demo``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", required=True, metavar="DIR")
    parser.add_argument("--layout", choices=["original", "diffusers"], default="original")
    parser.add_argument("--variants", default="turbo", help="comma-separated: turbo,base,sft,xl-turbo,xl-base,xl-sft (default turbo; xl-* keep the XL shape ratios)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from acestep_train.models.tiny import write_demo_model

    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    for folder in write_demo_model(args.output_dir, args.layout, variants, args.seed):
        print(f"wrote {folder}")
    return 0
