"""Full-size smoke run on the CPU (a benchmark, not in CI): the real-size DiT, random fp32 weights.

For LoRA and for LoKr: build the 1.58 B-parameter DiT, attach the adapter with our code, take one
training step (flow-matching noise, DiT, masked loss, backward, AdamW) on a short crop, save the
adapter as training does, load it back as export does, export it for ComfyUI, and merge it into a
full-size original-layout checkpoint (random bf16, written once). Proves the full-size shapes,
target names and parameter counts that tiny models cannot; reports time and peak RSS per stage.
Needs about 10 GB of RAM and 10 GB of disk.

    python -m bench fullsize_cpu --workdir /tmp/fullsize [--frames 16]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path


def one_adapter(kind: str, args, stages: dict) -> dict:
    import torch

    from acestep_train.export.exporter import export_adapter
    from acestep_train.export.load import load_adapter
    from acestep_train.export.merge import merge_into_original
    from acestep_train.models.discovery import describe_model
    from bench.common import peak_rss_mb
    from bench.train_step import build, parser

    def mark(name: str, start: float) -> None:
        stages[f"{kind}_{name}_s"] = round(time.perf_counter() - start, 1)
        stages[f"{kind}_{name}_peak_rss_gb"] = round(peak_rss_mb() / 1024, 2)

    step_args = parser().parse_args(["--size", "full", "--preset", "24gb", "--adapter", kind, "--batch", "1",
                                     "--frames", str(args.frames), "--encoder-tokens", str(args.encoder_tokens)])
    start = time.perf_counter()
    config, model_config, transformer, adapter = build(step_args, torch.device("cpu"), torch.float32)
    mark("build", start)
    start = time.perf_counter()
    loss = train_one_step(config, model_config, transformer, adapter, args)
    mark("step", start)
    start = time.perf_counter()
    folder = args.workdir / kind / "adapter"
    adapter.save(folder, {"benchmark": "fullsize_cpu"})
    loaded = load_adapter(folder)
    exported = export_adapter(loaded, "comfyui", args.workdir / kind / "comfyui")
    mark("save_export", start)
    figures = {"kind": kind, "loss": round(loss, 4), "frozen_params": sum(p.numel() for p in transformer.parameters()
                                                                         if not p.requires_grad),
               "adapter_params": sum(p.numel() for p in adapter.params), "adapted_modules": len(adapter.names),
               "exported": exported.name}
    del adapter, transformer, config
    gc.collect()
    start = time.perf_counter()
    merge_into_original(describe_model(args.workdir / "base" / "acestep-v15-turbo", "original"), loaded, 1.0,
                        args.workdir / kind / "merged")
    mark("merge", start)
    return figures


def train_one_step(config, model_config: dict, transformer, adapter, args) -> float:
    import torch

    from acestep_train.train.flow import masked_loss
    from acestep_train.train.optim import make_optimizer

    optimizer = make_optimizer(config.optim, adapter.params, torch.device("cpu"))
    from acestep_train.models.keymap import encoder_width

    channels, width = model_config["audio_acoustic_hidden_dim"], encoder_width(model_config)
    x0 = torch.randn(1, args.frames, channels)
    noise, t = torch.randn_like(x0), torch.rand(1)
    prediction = transformer(hidden_states=t * noise + (1 - t) * x0, timestep=t, timestep_r=t,
                             encoder_hidden_states=torch.randn(1, args.encoder_tokens, width),
                             context_latents=torch.randn(1, args.frames, 2 * channels)).sample
    loss = masked_loss(prediction, noise - x0, torch.ones(1, args.frames), torch.ones(1))
    loss.backward()
    optimizer.step()
    return float(loss)


def main(argv: list[str] | None = None) -> dict:
    from bench.common import RESULTS, peak_rss_mb, write_result
    from bench.merge_peak_ram import config_for, write_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--encoder-tokens", type=int, default=32)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stages: dict = {}
    write_checkpoint(args.workdir / "base", config_for("full"))
    stages["write_base_checkpoint_s"] = round(time.perf_counter() - started, 1)
    runs = [one_adapter(kind, args, stages) for kind in ("lora", "lokr")]
    figures = {"frames": args.frames, "encoder_tokens": args.encoder_tokens, "runs": runs, **stages,
               "total_s": round(time.perf_counter() - started, 1), "peak_rss_gb": round(peak_rss_mb() / 1024, 2)}
    print(json.dumps(figures))
    write_result("fullsize_cpu", figures, args.results_dir)
    return figures


if __name__ == "__main__":
    main()
