"""``export``: write an adapter for ACE-Step's UI, ComfyUI or diffusers, verified by reading it back."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", required=True, metavar="PATH",
                        help="a run checkpoint (best/, final/, checkpoints/<step>/), an export, or another tool's file")
    parser.add_argument("--format", required=True, choices=["acestep", "comfyui", "diffusers"])
    parser.add_argument("--output", required=True, metavar="DIR")
    parser.add_argument("--trigger-word", help="recorded in the export's metadata")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.export.exporter import export_adapter
    from acestep_train.export.load import load_adapter

    adapter = load_adapter(args.adapter)
    if args.trigger_word:
        adapter.metadata["trigger_word"] = args.trigger_word
    written = export_adapter(adapter, args.format, Path(args.output))
    print(f"wrote {written} ({adapter.kind}, {len(adapter.modules)} modules; read back and verified)")
    return 0
