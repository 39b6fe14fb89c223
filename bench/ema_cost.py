"""What the EMA of the adapter costs per optimizer step: its update, beside the step it follows.

A real ``train`` run on the tiny test model (the CPU, synthetic tensors, ``ema.enabled``) gives the
median training step (from its ``step`` events' times); the run's own adapter parameters then time
``AdapterEma.update`` (median of ``--reps`` updates) held with the weights and held on the CPU.
``--params N`` also times one update of an average of N fp32 parameters held on the CPU (rank 64 on
both attentions of the full-size DiT is 44,040,192), what ``ema.on_cpu`` adds to a full-size step
besides the copy from the GPU.

    python -m bench ema_cost [--reps 200 --params 44040192]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def update_ms(params, on_cpu: bool, reps: int) -> float:
    from acestep_train.train.ema import AdapterEma

    ema = AdapterEma(params, decay=0.999, warmup=True, on_cpu=on_cpu)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        ema.update()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def tiny_run(root: Path, epochs: int) -> tuple[float, list]:
    """(median step seconds of a tiny run with the EMA on, the run's adapter parameters after it)."""
    from acestep_train.events import read_events
    from acestep_train.models import find_model, load_components
    from acestep_train.models.tiny import write_demo_model
    from acestep_train.train.adapters import Adapter
    from acestep_train.train.config import load_config
    from acestep_train.train.setup import run_training
    from bench.train_overhead import synthetic_tensors

    write_demo_model(root / "model", "original", ("turbo",))
    info = find_model([root / "model"], "turbo")
    (root / "tensors").mkdir()
    synthetic_tensors(root / "tensors", info, 4, 30, 16)
    config = load_config(None, {
        "checkpoint_dirs": [str(root / "model")], "model_variant": "turbo", "dataset_dir": str(root / "tensors"),
        "output_dir": str(root / "run"), "loop.epochs": epochs, "data.max_latent_length": 30, "adapter.rank": 4,
        "adapter.alpha": 4.0, "checkpoint.save_every_epochs": 0, "loop.accelerator": "cpu", "ema.enabled": True})
    run_training(config)
    stamps = [e["time"] for e in read_events(root / "run" / "events.jsonl") if e["event"] == "step"]
    step_s = statistics.median(b - a for a, b in zip(stamps, stamps[1:]))
    transformer = load_components(info, ["transformer"], "cpu").transformer
    return step_s, Adapter(transformer, config.adapter).params


def main(argv: list[str] | None = None) -> dict:
    import torch

    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--params", type=int, default=0, help="also time an average of this many parameters")
    parser.add_argument("--name", default="ema_cost_cpu")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        step_s, params = tiny_run(Path(scratch), args.epochs)
    with_weights, on_cpu = update_ms(params, False, args.reps), update_ms(params, True, args.reps)
    figures = {"adapter_params": sum(p.numel() for p in params), "tensors": len(params),
               "step_ms": round(step_s * 1000, 3), "update_ms": round(with_weights, 4),
               "update_on_cpu_ms": round(on_cpu, 4), "fraction_of_step": round(with_weights / (step_s * 1000), 5)}
    if args.params:
        large = [torch.zeros(args.params // 64, 64), torch.zeros(args.params % 64 or 1)]
        figures.update(large_params=args.params, large_update_ms=round(update_ms(large, True, max(3, args.reps // 20)),
                                                                        2))
    print(json.dumps(figures))
    write_result(args.name, figures, args.results_dir)
    return figures
