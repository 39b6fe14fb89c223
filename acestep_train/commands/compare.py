"""``compare``: the listening bench; render checkpoints x strengths x prompts as one grid, then score it.

Give a spec file (``--spec grid_spec.json``, what the studio's Compare tab writes) or the same
settings as flags. Writes the audio and ``grid.json`` under ``--output``, with progress in
``<output>/events.jsonl``. When CLAP weights are there (``download --model clap``, or ``--clap DIR``)
each cell then gets its style similarity, prompt adherence and each checkpoint its KAD to the
training songs (``--reference DIR`` for other songs); ``--score-only DIR`` scores a grid already
rendered. Export a chosen cell with ``export --adapter <checkpoint> --strength S``.
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
                        help="best, final, every:N, step numbers or folders; the EMA of the adapter as its own row: "
                             "final-ema, best-ema, N-ema (checkpoints/N/ema)")
    parser.add_argument("--strengths", nargs="+", type=float, default=[0.0, 0.5, 0.75, 1.0, 1.25])
    parser.add_argument("--prompt", action="append", metavar="CAPTION", help="1 to 3; include the trigger word")
    parser.add_argument("--lyrics", action="append", help="one per --prompt, in order")
    parser.add_argument("--duration", action="append", type=float, help="seconds, one per --prompt")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, help="default: the variant's")
    parser.add_argument("--device")
    parser.add_argument("--output", metavar="DIR")
    parser.add_argument("--no-score", action="store_true", help="render only, no CLAP scores")
    parser.add_argument("--clap", metavar="DIR", help="a CLAP folder (default: <checkpoint-dir>/clap-htsat-unfused)")
    parser.add_argument("--reference", metavar="DIR", help="songs to score against (default: the run's training songs)")
    parser.add_argument("--score-only", metavar="GRID_DIR",
                        help="score a grid already rendered (its grid.json); --clap / --reference / --device apply")


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
                    tuple(args.strengths), prompts, args.seed, args.steps, args.base_model, args.device,
                    not args.no_score, args.clap, args.reference)


def score(grid, spec, events) -> None:
    """Score ``grid`` (grid.json) as ``spec`` says, and print what came of it."""
    from acestep_train.compare.scores import score_bench

    scoring = score_bench(grid, spec.clap, spec.checkpoint_dirs, spec.run, spec.reference, spec.device, events)
    if "unavailable" in scoring:
        print(f"no scores: {scoring['unavailable']}")
        return
    print(f"scored {scoring['clips']} clips with {scoring['clap']} ({scoring['seconds_per_clip']} s per clip, "
          f"{len(scoring['reference_songs'])} reference songs)")
    for song, why in scoring["skipped"]:
        print(f"skipped reference song {song}: {why}")


def rescore(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from acestep_train import safe_json
    from acestep_train.compare.spec import GridSpec
    from acestep_train.events import EventLog

    grid = Path(args.score_only) / "grid.json"
    if not grid.is_file():
        raise FileNotFoundError(f"{grid}: no grid here to score (render it first)")
    data = safe_json.load_file(grid)
    if not isinstance(data, dict) or "spec" not in data:
        raise ValueError(f"{grid}: not a listening bench grid (no spec); render the grid again")
    spec = GridSpec.from_json(data["spec"])
    spec = replace(spec, clap=args.clap or spec.clap, reference=args.reference or spec.reference,
                   device=args.device or spec.device)
    score(grid, spec, EventLog(grid.parent / "events.jsonl"))
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from acestep_train.compare.render import render_grid
    from acestep_train.events import EventLog

    if args.score_only:
        return rescore(args)
    spec = spec_from_args(args)
    events = EventLog(Path(spec.output) / "events.jsonl")
    grid = render_grid(spec, events)
    print(f"wrote {grid}")
    if spec.score:
        score(grid, spec, events)
    return 0
