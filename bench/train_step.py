"""Training-step speed and memory of the ACE-Step 1.5 DiT with each preset's batch and crop.

Builds the DiT with random weights in bf16 (``--size full``: 1.58 B params, no download) or
the small CPU configuration, attaches the preset's LoRA, LoKr or LoHA with our adapter code, and
times our flow-matching step (noise, timesteps, DiT, masked loss, backward, optimizer) on
preprocessed-like random inputs. Reports step time, samples/s, audio-seconds trained per
second, peak allocated/reserved memory and model FLOP utilisation (analytic FLOPs per step
/ time / the device's peak bf16 FLOP/s). Variants: gradient checkpointing, torch.compile,
attention backend. ``--model xl`` runs the XL DiT with the tier's XL settings; ``--base-weights int8``
(or a preset asking for it) stores the frozen layer linears in int8 (``acestep_train/train/int8.py``).

    python -m bench train_step --size full --preset 24gb --adapter lora [--checkpointing on|off] [--model xl]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from acestep_train.train.config import ADAPTER_TYPES

#: Dense bf16 tensor-core peak FLOP/s by device name fragment.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A6000": 155e12, "4090": 165e12,
             "3090": 71e12, "4080": 97e12, "A10": 125e12, "L4": 121e12, "T4": 65e12}
SMALL = {"hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 64}
#: The small XL keeps the XL's ratios: 1.25x the encoder width, query 1.6x, key/value 0.4x, MLP 3.8x.
SMALL_XL = {"hidden_size": 320, "intermediate_size": 1216, "num_hidden_layers": 4, "num_attention_heads": 8,
            "num_key_value_heads": 2, "head_dim": 64, "encoder_hidden_size": 256}


def dit_config(size: str, model: str = "2b") -> dict:
    from bench.merge_peak_ram import config_for
    from acestep_train.models import keymap

    config = config_for("xl" if model == "xl" else "full")
    if size == "small":
        small = SMALL_XL if model == "xl" else SMALL
        config = {**config, **small, "layer_types": ["sliding_attention", "full_attention"] * 2}
    from diffusers import AceStepTransformer1DModel

    return keymap.config_for(AceStepTransformer1DModel, config)


def step_flops(config: dict, params: int, adapter_params: int, tokens: int, encoder_tokens: int,
               checkpointing: bool) -> float:
    """Matmul FLOPs of one step: forward 2*P*tokens plus attention; backward of a frozen base needs
    input gradients only (about one forward more); checkpointing recomputes one forward."""
    d, layers = config["hidden_size"], config["num_hidden_layers"]
    attention = layers * 4 * tokens * d * (tokens + encoder_tokens)
    forward = 2 * params * tokens + attention
    adapter = 6 * adapter_params * tokens
    return forward * (3 if checkpointing else 2) + adapter


def peak_flops(device) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_BF16.items() if key in name), None)


def build(args, device, dtype):
    import torch
    from diffusers import AceStepTransformer1DModel

    from acestep_train.presets import load_preset
    from acestep_train.train.adapters import Adapter
    from acestep_train.train.config import load_config

    settings = load_preset(args.preset).for_model(args.adapter, args.model)
    overrides = {"checkpoint_dirs": ["."], "dataset_dir": ".", "output_dir": "."}
    if args.base_weights:
        overrides["loop.base_weights"] = args.base_weights
    config = load_config(None, overrides, settings)
    model_config = dit_config(args.size, args.model)
    with torch.device(device):
        transformer = torch.nn.Module.to(AceStepTransformer1DModel(**model_config), dtype=dtype)
    if config.loop.base_weights == "int8":
        from acestep_train.train.int8 import quantize_base

        quantize_base(transformer, device)
    if args.checkpointing == "on":
        transformer.enable_gradient_checkpointing()
    if args.attention != "native":
        transformer.set_attention_backend(args.attention)
    adapter = Adapter(transformer, config.adapter)
    return config, model_config, transformer, adapter


def run_steps(args, device, dtype) -> dict:
    import torch

    from acestep_train.train.flow import masked_loss
    from acestep_train.train.optim import make_optimizer

    config, model_config, transformer, adapter = build(args, device, dtype)
    optimizer = make_optimizer(config.optim, adapter.params, device)
    batch = args.batch or config.data.batch_size
    frames = (args.frames or config.data.max_latent_length) // 2 * 2
    from acestep_train.models.keymap import encoder_width

    channels, width = model_config["audio_acoustic_hidden_dim"], encoder_width(model_config)
    forward = torch.compile(transformer) if args.compile == "on" else transformer
    x0 = torch.randn(batch, frames, channels, device=device, dtype=dtype)
    inputs = {"encoder_hidden_states": torch.randn(batch, args.encoder_tokens, width, device=device, dtype=dtype),
              "context_latents": torch.randn(batch, frames, 2 * channels, device=device, dtype=dtype)}
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        t = torch.rand(batch, device=device, dtype=dtype)
        noise = torch.randn_like(x0)
        with torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda"):
            pred = forward(hidden_states=t[:, None, None] * noise + (1 - t[:, None, None]) * x0, timestep=t,
                           timestep_r=t, **inputs).sample
            loss = masked_loss(pred, noise - x0, torch.ones(batch, frames, device=device), torch.ones(batch, device=device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    step_s = sorted(times)[len(times) // 2]
    params = sum(p.numel() for p in transformer.parameters() if not p.requires_grad)
    adapter_params = sum(p.numel() for p in adapter.params)
    flops = step_flops(model_config, params, adapter_params, batch * frames // 2, args.encoder_tokens,
                       args.checkpointing == "on")
    peak = peak_flops(device)
    figures = {"size": args.size, "model": args.model, "base_weights": config.loop.base_weights,
               "preset": args.preset, "adapter": args.adapter, "batch": batch, "frames": frames,
               "checkpointing": args.checkpointing, "compile": args.compile, "attention": args.attention,
               "params": params, "adapter_params": adapter_params, "step_s": round(step_s, 4),
               "samples_per_s": round(batch / step_s, 3), "audio_s_per_s": round(batch * frames / 25 / step_s, 2),
               "tflops_per_step": round(flops / 1e12, 3), "mfu": round(flops / step_s / peak, 4) if peak else None}
    figures.update(memory(device))
    return figures


def memory(device) -> dict:
    import torch

    if device.type == "cuda":
        return {"peak_allocated_gb": round(torch.cuda.max_memory_allocated(device) / 1024**3, 2),
                "peak_reserved_gb": round(torch.cuda.max_memory_reserved(device) / 1024**3, 2)}
    from bench.common import peak_rss_mb

    return {"peak_rss_gb": round(peak_rss_mb() / 1024, 2)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=["full", "small"], default="small")
    p.add_argument("--preset", default="24gb")
    p.add_argument("--adapter", choices=ADAPTER_TYPES, default="lora")
    p.add_argument("--model", choices=["2b", "xl"], default="2b", help="the DiT; xl takes the tier's XL settings")
    p.add_argument("--base-weights", choices=["full", "int8"], help="default: the preset's")
    p.add_argument("--batch", type=int, help="default: the preset's")
    p.add_argument("--frames", type=int, help="default: the preset's crop")
    p.add_argument("--encoder-tokens", type=int, default=600)
    p.add_argument("--checkpointing", choices=["on", "off"], default="off")
    p.add_argument("--compile", choices=["on", "off"], default="off")
    p.add_argument("--attention", default="native", help="a diffusers attention backend (native, flash, ...)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--results-dir", type=Path, default=None)
    return p


def main(argv: list[str] | None = None) -> dict:
    import torch

    from bench.common import RESULTS, write_result

    args = parser().parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    figures = run_steps(args, device, dtype)
    print(json.dumps(figures))
    name = (f"train_step_{args.size}_{args.preset}_{args.adapter}_gc{args.checkpointing}_c{args.compile}_"
            f"{args.attention}" + ("" if args.model == "2b" else f"_{args.model}")
            + (f"_{args.base_weights}" if args.base_weights else ""))
    write_result(name, figures, args.results_dir or RESULTS)
    return figures


if __name__ == "__main__":
    main()
