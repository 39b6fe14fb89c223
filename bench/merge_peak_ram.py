"""Peak RAM of merging a LoRA into the full-size ACE-Step 1.5 DiT (2 B or XL) on CPU.

Writes a full-size original-layout checkpoint with random bf16 weights (streamed, never
held in memory), a rank-64 LoRA on every attention projection, then merges in a fresh
subprocess and reports that process's peak resident memory. ``--size xl`` does it for the XL
(hidden 2560, 32 layers); ``--size tiny`` / ``tiny-xl`` run the same path on the tiny
configurations (the CI test of this harness).

    python -m bench.merge_peak_ram --workdir /tmp/merge-bench [--size full|xl|tiny|tiny-xl]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from acestep_train.models.full_config import FULL_DIT, FULL_XL_DIT

SIZES = ("full", "xl", "tiny", "tiny-xl")


def config_for(size: str) -> dict:
    if size in ("full", "xl"):
        return dict(FULL_DIT if size == "full" else FULL_XL_DIT)
    from acestep_train.models.tiny import TINY_XL, TinySpec, dit_config

    return dit_config(TINY_XL, "xl-turbo") if size == "tiny-xl" else dit_config(TinySpec(), "turbo")


def folder_for(size: str) -> str:
    return "acestep-v15-xl-turbo" if "xl" in size else "acestep-v15-turbo"


def write_checkpoint(root: Path, config: dict, folder: str) -> Path:
    """Original layout with random bf16 weights, streamed tensor by tensor."""
    import torch
    from accelerate import init_empty_weights
    from diffusers import AceStepTransformer1DModel

    from acestep_train.atomic import atomic_write_json
    from acestep_train.export.streaming import stream_safetensors
    from acestep_train.models import keymap

    dit = root / folder
    dit.mkdir(parents=True, exist_ok=True)
    layout = []
    with init_empty_weights():
        parts = {
            keymap.TRANSFORMER: AceStepTransformer1DModel(**keymap.config_for(AceStepTransformer1DModel, config)),
            keymap.CONDITION_ENCODER: keymap.condition_encoder(config),
        }
    for component, module in parts.items():
        for key, tensor in module.state_dict().items():
            if key != "silence_latent":
                layout.append((keymap.to_original_key(component, key), torch.bfloat16, tuple(tensor.shape)))
    generator = torch.Generator().manual_seed(0)
    stream_safetensors(dit / "model.safetensors", layout,
                       lambda key: (torch.randn(dict((k, s) for k, _, s in layout)[key], generator=generator)
                                    * 0.02).to(torch.bfloat16))
    torch.save(torch.zeros(1, config["audio_acoustic_hidden_dim"], 15000), dit / "silence_latent.pt")
    atomic_write_json(dit / "config.json", config)
    return dit


def lora_adapter(config: dict, rank: int):
    import torch

    from acestep_train.export.adapter_state import Adapter, LoraFactors

    hidden, heads, kv, head_dim = (config[k] for k in ("hidden_size", "num_attention_heads",
                                                      "num_key_value_heads", "head_dim"))
    shapes = {"to_q": (heads * head_dim, hidden), "to_k": (kv * head_dim, hidden),
              "to_v": (kv * head_dim, hidden), "to_out.0": (hidden, heads * head_dim)}
    modules = {}
    for layer in range(config["num_hidden_layers"]):
        for attention in ("self_attn", "cross_attn"):
            for leaf, (out, inp) in shapes.items():
                modules[f"layers.{layer}.{attention}.{leaf}"] = LoraFactors(
                    torch.randn(rank, inp) * 0.01, torch.randn(out, rank) * 0.01, float(rank))
    return Adapter("lora", modules)


def merge_child(workdir: Path, size: str, rank: int) -> None:
    """Runs in its own process so its peak RSS is the merge's alone."""
    from acestep_train.export.merge import merge_into_original
    from acestep_train.models.discovery import describe_model
    from bench.common import peak_rss_mb

    adapter = lora_adapter(config_for(size), rank)
    adapter_params = sum(f.down.numel() + f.up.numel() for f in adapter.modules.values())
    start = time.perf_counter()
    merge_into_original(describe_model(workdir / folder_for(size), "original"), adapter, 1.0,
                        workdir / "merged")
    print(json.dumps({"merge_seconds": round(time.perf_counter() - start, 2), "peak_rss_mb": round(peak_rss_mb()),
                      "adapter_params": adapter_params}))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        merge_child(args.workdir, args.size, args.rank)
        return {}
    from bench.common import RESULTS, write_result

    start = time.perf_counter()
    dit = write_checkpoint(args.workdir, config_for(args.size), folder_for(args.size))
    write_seconds = time.perf_counter() - start
    out = subprocess.run([sys.executable, "-m", "bench.merge_peak_ram", "--workdir", str(args.workdir),
                          "--size", args.size, "--rank", str(args.rank), "--child"],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures.update(size=args.size, rank=args.rank, checkpoint_gb=round((dit / "model.safetensors").stat().st_size
                                                                        / 1e9, 2),
                   write_seconds=round(write_seconds, 1))
    print(json.dumps(figures))
    write_result(f"merge_peak_ram_{args.size}", figures, args.results_dir or RESULTS)
    return figures


if __name__ == "__main__":
    main()
