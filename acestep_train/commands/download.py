"""``download``: fetch an official ACE-Step 1.5 model into a checkpoint folder."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", required=True, metavar="DIR")
    parser.add_argument("--model", default="turbo",
                        help="turbo, base, sft or an official folder name (e.g. acestep-v15-xl-sft)")
    parser.add_argument("--endpoint", help="a Hugging Face mirror URL (default: the official hub)")


def run(args: argparse.Namespace) -> int:
    from acestep_train.cli import CliError
    from acestep_train.models.download import DownloadError, download_model

    try:
        folder = download_model(args.model, args.checkpoint_dir, endpoint=args.endpoint)
    except DownloadError as error:
        raise CliError(str(error)) from error
    print(f"downloaded {folder}")
    return 0
