"""``export``: write an adapter for ACE-Step's UI, ComfyUI or diffusers, verified by reading it back."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", required=True, metavar="PATH",
                        help="a run checkpoint (best/, final/, checkpoints/<step>/; the EMA of the adapter: final-ema/, "
                             "best/ema/, checkpoints/<step>/ema/), an export, or another tool's file")
    parser.add_argument("--format", required=True, choices=["acestep", "comfyui", "diffusers"])
    parser.add_argument("--output", required=True, metavar="DIR")
    parser.add_argument("--trigger-word", help="recorded in the export's metadata")
    parser.add_argument("--lokr-as-lora", action="store_true",
                        help="write a LoKr as its exact LoRA form, so pipe.load_lora_weights (diffusers), "
                             "ACE-Step and ComfyUI load it as a plain LoRA; refused when the rank needed is too large")
    parser.add_argument("--strength", type=float, default=1.0,
                        help="bake this strength into the export (recorded in its metadata); read back and checked")
    parser.add_argument("--bench-scores", metavar="GRID_DIR",
                        help="record the listening bench's scores of its favourite (this adapter at --strength) "
                             "in the export's metadata")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export of another adapter in that folder; files the studio did not "
                             "write there are moved to <folder>.replaced-<time>/ beside it")
    parser.add_argument("--checkpoint-dir", action="append", metavar="DIR",
                        help="check the adapter against the model it names (or --model-variant) under this folder")
    parser.add_argument("--model-variant", help="with --checkpoint-dir: the model to check against, when the "
                                                "adapter's metadata names none")
    parser.add_argument("--max-lora-rank", type=int, default=None,
                        help="the largest LoRA rank to write for --lokr-as-lora (default 128) or for a LoHA's exact LoRA "
                             "form, which ACE-Step and diffusers get because they cannot load LoHA (default 256)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.compare.choose import at_strength, favourite_scores
    from acestep_train.export.exporter import export_adapter, export_identity
    from acestep_train.export.load import load_adapter
    from acestep_train.export.model_check import model_for_adapter
    from acestep_train.export.output_folder import check_output, moved_note
    from acestep_train.previews import playback_words

    adapter = load_adapter(args.adapter)
    if args.trigger_word:
        adapter.metadata["trigger_word"] = args.trigger_word
    if args.strength != 1.0:
        adapter = at_strength(adapter, args.strength)
    if args.bench_scores:
        adapter.metadata["bench_scores"] = favourite_scores(args.bench_scores, args.adapter, args.strength)
    # Every check before anything is written; their ValueErrors are printed as one clear line.
    model = model_for_adapter(adapter, Path(args.adapter), args.checkpoint_dir, args.model_variant)  # its shapes:
    # checked by export_adapter before anything is written
    plan = check_output(Path(args.output), export_identity(adapter), args.overwrite)
    written = export_adapter(adapter, args.format, Path(args.output), args.lokr_as_lora, args.max_lora_rank,
                             model=model, plan=plan)
    kind = "lokr written as an exact lora" if args.lokr_as_lora else adapter.kind
    if adapter.kind == "loha":
        from acestep_train.export.loha_to_lora import CONSUMER_NOTE

        kind = f"loha; {CONSUMER_NOTE[args.format]}"
    checked = f"shapes fit {model.name}" if model else "shapes not checked: no model found, pass --checkpoint-dir"
    print(f"wrote {written} ({kind}, {len(adapter.modules)} modules; read back and verified; {checked})"
          f"{moved_note(plan)}")
    print(playback_words(adapter.metadata))
    return 0
