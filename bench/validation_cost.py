"""What a validation evaluation costs: seconds, and as a fraction of a training step, from a real run.

A real ``train`` run (the CPU, a random-init model of the given size, synthetic tensors) validates
every ``--every`` steps on ``--held`` held-out songs at ``--crops`` x ``--timesteps`` probes; the
figures come from its own ``validation`` and ``step`` events: seconds per evaluation (the first, which
also computes the base model's reference, reported apart), the mean training step, their ratio, and
the cost of one probe (a batch-1 forward pass) over one training sample's forward + backward. That
last ratio is what carries to another model size: an evaluation costs ``probes x probe_per_sample``
training steps of batch 1.

    python -m bench validation_cost [--hidden 512 (0: the tiny test model) --layers 8 --frames 256 --batch 2 --held 2 --crops 1 --timesteps 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path


def run(root: Path, args) -> list[dict]:
    from acestep_train.events import read_events
    from acestep_train.train.config import load_config
    from acestep_train.train.setup import run_training

    songs = [f"s{i}" for i in range(args.held)]
    config = load_config(None, {
        "checkpoint_dirs": [str(root / "model")], "model_variant": "turbo", "dataset_dir": str(root / "tensors"),
        "output_dir": str(root / "run"), "loop.epochs": args.epochs, "data.batch_size": args.batch,
        "data.max_latent_length": args.frames, "adapter.rank": 16, "adapter.alpha": 16.0, "optim.lr": 1e-4,
        "checkpoint.save_every_epochs": 0, "loop.accelerator": "cpu", "validation.every_steps": args.every,
        "validation.songs": songs, "validation.crops": args.crops, "validation.timesteps": args.timesteps})
    run_training(config)
    return read_events(root / "run" / "events.jsonl")


def figures_from(events: list[dict], args, spec) -> dict:
    checks = [e for e in events if e["event"] == "validation"]
    stamps = [e["time"] for e in events if e["event"] == "step"]
    later = checks[1:] or checks
    step_s = statistics.median([e["seconds"] / e["fraction_of_step"] for e in later if e.get("fraction_of_step")])
    eval_s = statistics.median(e["seconds"] for e in later)
    probes = later[0]["passes"]
    return {"hidden": spec.hidden_size, "layers": spec.layers, "frames": args.frames, "batch": args.batch,
            "held_out_songs": args.held, "crops": args.crops, "timesteps": args.timesteps, "probes": probes,
            "evaluations": len(checks), "steps": len(stamps), "eval_s": round(eval_s, 4),
            "first_eval_with_base_s": round(checks[0]["seconds"], 4), "step_s": round(step_s, 4),
            "fraction_of_step": round(eval_s / step_s, 4),
            "probe_per_sample_step": round((eval_s / probes) / (step_s / args.batch), 4)}


def main(argv: list[str] | None = None) -> dict:
    from acestep_train.models import find_model
    from acestep_train.models.tiny import TinySpec, write_demo_model
    from bench.common import RESULTS, write_result
    from bench.train_overhead import synthetic_tensors

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("hidden", 512), ("layers", 8), ("frames", 256), ("batch", 2), ("held", 2), ("crops", 1),
                          ("timesteps", 4), ("every", 4), ("epochs", 3)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--name", default="validation_cost_cpu")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    spec = TinySpec() if args.hidden == 0 else TinySpec(  # 0: the tests' and the demo's tiny model
        hidden_size=args.hidden, intermediate_size=3 * args.hidden, layers=args.layers,
        heads=max(1, args.hidden // 64), kv_heads=max(1, args.hidden // 128), head_dim=64, text_hidden_size=32)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_demo_model(root / "model", "original", ("turbo",), spec=spec)
        (root / "tensors").mkdir()
        synthetic_tensors(root / "tensors", find_model([root / "model"], "turbo"), args.held + 4 * args.batch,
                          args.frames, 64)
        figures = figures_from(run(root, args), args, spec)
    print(json.dumps(figures))
    write_result(args.name, figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
