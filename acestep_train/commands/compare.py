"""``compare``: the listening bench; render checkpoints x strengths x prompts as one grid.

Give a spec file (``--spec grid_spec.json``, what the studio's Compare tab writes) or the same
settings as flags. Writes the audio and ``grid.json`` under ``--output``, with progress in
``<output>/events.jsonl``. Export a chosen cell with ``export --adapter <checkpoint> --strength S``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", metavar="FILE", help="a grid spec JSON (the flags below are then ignored)")
    parser.add_argument("--run", metavar="DIR", help="the training run folder")
    parser.add_argument("--checkpoint-dir", action="append", metavar="DIR", help="model root (repeatable)")
    parser.add_argument("--model-variant")
    parser.add_argument("--base-model")
    parser.add_argument("--checkpoints", nargs="+", default=["best", "final"],
                        help="best, final, every:N, step numbers or folders")
    parser.add_argument("--strengths", nargs="+", type=float, default=[0.0, 0.5, 0.75, 1.0, 1.25])
    parser.add_argument("--prompt", action="append", metavar="CAPTION", help="1 to 3; include the trigger word")
    parser.add_argument("--lyrics", action="append", help="one per --prompt, in order")
    parser.add_argument("--duration", action="append", type=float, help="seconds, one per --prompt")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, help="default: the variant's")
    parser.add_argument("--device")
    parser.add_argument("--output", metavar="DIR")


def spec_from_args(args: argparse.Namespace):
    from acestep_train.compare.spec import GridSpec, PromptSpec

    if args.spec:
        return GridSpec.read(args.spec)
    missing = [flag for flag, value in (("--run", args.run), ("--checkpoint-dir", args.checkpoint_dir),
                                        ("--model-variant", args.model_variant), ("--prompt", args.prompt),
                                        ("--output", args.output)) if not value]
    if missing:
        raise ValueError(f"compare needs --spec or {', '.join(missing)}")
    lyrics, durations = args.lyrics or [], args.duration or []
    prompts = tuple(PromptSpec(caption, lyrics[i] if i < len(lyrics) else "",
                               durations[i] if i < len(durations) else 10.0) for i, caption in enumerate(args.prompt))
    return GridSpec(args.run, tuple(args.checkpoint_dir), args.model_variant, args.output, tuple(args.checkpoints),
                    tuple(args.strengths), prompts, args.seed, args.steps, args.base_model, args.device)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.compare.render import render_grid
    from acestep_train.events import EventLog

    spec = spec_from_args(args)
    grid = render_grid(spec, EventLog(Path(spec.output) / "events.jsonl"))
    print(f"wrote {grid}")
    return 0
