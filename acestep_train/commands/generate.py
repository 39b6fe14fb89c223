"""``generate``: a clip from a model, optionally with an adapter at a chosen strength."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", required=True, action="append", metavar="DIR")
    parser.add_argument("--model-variant", required=True)
    parser.add_argument("--base-model")
    parser.add_argument("--adapter", metavar="PATH", help="a run checkpoint, export or another tool's adapter")
    parser.add_argument("--scale", type=float, default=1.0, help="adapter strength")
    parser.add_argument("--prompt", required=True, help="the caption")
    parser.add_argument("--lyrics", default="")
    parser.add_argument("--language", default="en")
    parser.add_argument("--bpm", type=int)
    parser.add_argument("--keyscale", default="")
    parser.add_argument("--timesignature", default="")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, help="default: 8 turbo, 32 sft, 50 base")
    parser.add_argument("--device")
    parser.add_argument("--output", required=True, metavar="F.wav")


def run(args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from acestep_train.export.load import load_adapter
    from acestep_train.models import build_pipeline, find_model, load_components
    from acestep_train.models.loading import PARTS
    from acestep_train.previews import PreviewRequest, deltas_on, render
    from acestep_train.prompts import SongText

    info = find_model(args.checkpoint_dir, args.model_variant, args.base_model)
    if info.variant.family is None:
        raise ValueError(f"{info.path}: cannot tell turbo/base/sft; pass --base-model")
    pipe = build_pipeline(load_components(info, PARTS, args.device))
    pipe.set_progress_bar_config(disable=True)
    deltas = deltas_on(pipe.transformer, load_adapter(args.adapter)) if args.adapter else None
    song = SongText(args.prompt, args.lyrics, args.language, args.bpm, args.keyscale, args.timesignature,
                    args.duration)
    request = PreviewRequest(song, args.seed, (args.scale,), args.steps)
    with tempfile.TemporaryDirectory() as scratch:
        result = render(pipe, deltas, request, info.variant.family, Path(scratch))
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(next(iter(result.files.values()))), output)
    print(f"wrote {output}")
    return 0
