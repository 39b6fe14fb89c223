"""Training-loop overhead: our step time / a bare PyTorch forward-backward-step, same model and batch.

Our step includes everything the real loop does per step (window cropping and collation from
the tensor files, noise and timesteps, the cross-attention mask, loss, clipping, scheduler,
events). The bare step is the DiT with the same LoRA on one pre-built batch. The model is
sized so compute dominates on a CPU (goal: ratio <= 1.05).

    python -m bench.train_overhead [--hidden 512 --layers 8 --frames 256 --batch 2 --steps 12 --rounds 7]

A shared machine's speed drifts between and within runs, so the two are interleaved: each round
runs the bare loop, then ours, and gives one ratio of their median step times (neighbours in
time see the same load; which one goes first alternates). The figure is the median of the rounds'
ratios, with its quartiles.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def synthetic_tensors(folder: Path, info, songs: int, frames: int, tokens: int) -> None:
    import torch

    from acestep_train.models.discovery import read_json
    from acestep_train.models.fingerprint import conditioning_fingerprint
    from acestep_train.models.keymap import encoder_width
    from acestep_train.tensors import Manifest, SampleTensors, write_sample

    config = read_json(info.files.transformer_config)
    channels, width = config["audio_acoustic_hidden_dim"], encoder_width(config)
    manifest = Manifest(conditioning_fingerprint(info), info.name, info.variant.name, channels, {})
    for index in range(songs):
        sample = SampleTensors(torch.randn(frames, channels), torch.randn(tokens, width), torch.ones(tokens),
                               torch.randn(frames, 2 * channels))
        write_sample(folder / f"s{index}.safetensors", sample)
        manifest.samples[f"s{index}"] = {"file": f"s{index}.safetensors", "content_hash": "x", "frames": frames}
    manifest.save(folder)


def bare_step_seconds(info, args) -> float:
    import torch

    from acestep_train.models import load_components
    from acestep_train.train.adapters import Adapter
    from acestep_train.train.config import AdapterConfig

    transformer = load_components(info, ["transformer"], "cpu").transformer
    adapter = Adapter(transformer, AdapterConfig(rank=16, alpha=16.0))
    optimizer = torch.optim.AdamW(adapter.params, lr=1e-4)
    channels = transformer.config.audio_acoustic_hidden_dim
    inputs = {"hidden_states": torch.randn(args.batch, args.frames, channels), "timestep": torch.rand(args.batch),
              "timestep_r": torch.rand(args.batch), "encoder_hidden_states": torch.randn(args.batch, 64, args.hidden),
              "context_latents": torch.randn(args.batch, args.frames, 2 * channels)}
    target = torch.randn(args.batch, args.frames, channels)
    times = []
    for _ in range(args.steps + 2):
        start = time.perf_counter()
        loss = ((transformer(**inputs).sample - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return sorted(times[2:])[len(times[2:]) // 2]


def our_step_seconds(root: Path, tensors: Path, args, name: str) -> float:
    from acestep_train.events import read_events
    from acestep_train.train.config import load_config
    from acestep_train.train.setup import run_training

    config = load_config(None, {"checkpoint_dirs": [str(root / "model")], "model_variant": "turbo",
                                "dataset_dir": str(tensors), "output_dir": str(root / name), "loop.epochs": 1,
                                "data.batch_size": args.batch, "data.max_latent_length": 0, "adapter.rank": 16,
                                "adapter.alpha": 16.0, "optim.lr": 1e-4, "checkpoint.save_every_epochs": 0,
                                "loop.accelerator": "cpu"})
    run_training(config)
    stamps = [e["time"] for e in read_events(root / name / "events.jsonl") if e["event"] == "step"]
    gaps = sorted(b - a for a, b in zip(stamps[1:], stamps[2:]))
    return gaps[len(gaps) // 2]


def main(argv: list[str] | None = None) -> dict:
    from acestep_train.models import find_model
    from acestep_train.models.tiny import TinySpec, write_demo_model
    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    spec = TinySpec(hidden_size=args.hidden, intermediate_size=3 * args.hidden, layers=args.layers,
                    heads=args.hidden // 64, kv_heads=max(1, args.hidden // 128), head_dim=64,
                    text_hidden_size=32)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_demo_model(root / "model", "original", ("turbo",), spec=spec)
        info = find_model([root / "model"], "turbo")
        (root / "tensors").mkdir()
        synthetic_tensors(root / "tensors", info, args.batch * (args.steps + 2), args.frames, 64)
        bare, ours = [], []
        for round_ in range(args.rounds):  # alternate which goes first, so neither always runs warmer
            if round_ % 2:
                ours.append(our_step_seconds(root, root / "tensors", args, f"run{round_}"))
            bare.append(bare_step_seconds(info, args))
            if not round_ % 2:
                ours.append(our_step_seconds(root, root / "tensors", args, f"run{round_}"))
    figures = {"hidden": args.hidden, "layers": args.layers, "frames": args.frames, "batch": args.batch,
               "steps": args.steps, "rounds": args.rounds, "our_step_s": round(statistics.median(ours), 4),
               "bare_step_s": round(statistics.median(bare), 4), **ratio_figures(bare, ours)}
    print(json.dumps(figures))
    write_result("train_overhead_cpu", figures, args.results_dir)
    return figures


def ratio_figures(bare: list[float], ours: list[float]) -> dict:
    """Median of the per-round ratios (ours / bare), the quartiles and the extremes."""
    ratios = sorted(o / b for b, o in zip(bare, ours))
    quartiles = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [ratios[0]] * 3
    return {"overhead_ratio": round(statistics.median(ratios), 3),
            "ratio_iqr": [round(quartiles[0], 3), round(quartiles[2], 3)],
            "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)]}


if __name__ == "__main__":
    main()
