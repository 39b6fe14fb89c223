"""One-shot GPU suite: everything a first, short GPU loan should measure, in one results file.

    python -m bench gpu-suite            # or: bash bench/gpu_suite.sh
    python -m bench gpu-suite --size small --frames 32 --steps 1 --warmup 0   # CPU plumbing (the test)

On one H100/H200-class GPU it finishes in about 8 minutes (budget 9, ``--budget-s``): the full-size
DiT (random bf16 weights, built here, no download or network) takes training steps with every
preset's own settings for each adapter type (LoRA, LoKr, LoHA and DoRA), then variants of one preset
(checkpointing flipped, ``torch.compile`` on, the flash attention backend when installed); each row
has step time, samples/s, audio-seconds/s, peak allocated/reserved and MFU from analytic FLOPs, and
says whether the preset fits its tier with 1 GB to spare on this card. Then the XL DiT with each
tier's XL settings (LoRA; LoKr too on 8 GB, which runs on int8 base weights) and int8 base weights
on the 2 B model's small tiers, judged the same way. Then the model side of preprocessing at full
size (``bench/gpu_suite_preprocess.py``) and one full-size merge (``bench/merge_peak_ram.py``). A
section that would overrun the budget is recorded as skipped, never silently dropped. Results:
``bench/results/gpu_suite.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

MARGIN_GB = 1.0


def step_args(size: str, preset: str, adapter: str, args, **variant) -> argparse.Namespace:
    from bench.train_step import parser

    argv = ["--size", size, "--preset", preset, "--adapter", adapter, "--steps", str(args.steps),
            "--warmup", str(args.warmup)]
    if args.frames:
        argv += ["--frames", str(args.frames)]
    for key, value in variant.items():
        argv += [f"--{key}", value]
    return parser().parse_args(argv)


def preset_checkpointing(preset: str, adapter: str, model: str = "2b") -> str:
    from acestep_train.presets import load_preset

    loop = load_preset(preset).for_model(adapter, model).get("loop", {})
    return "on" if loop.get("gradient_checkpointing") else "off"


def xl_and_int8_plan(presets: list[str]) -> list[tuple[str, dict]]:
    """The XL rows (each tier's XL settings) and the int8-base rows of the 2 B model's small tiers."""
    from bench.preset_sim import INT8_TIERS

    plan = []
    for preset in presets:
        for adapter in ("lora", "lokr") if preset == "8gb" else ("lora",):
            plan.append(("xl", {"preset": preset, "adapter": adapter, "model": "xl",
                                "checkpointing": preset_checkpointing(preset, adapter, "xl")}))
    for preset in [p for p in presets if p in INT8_TIERS]:
        plan.append(("int8", {"preset": preset, "adapter": "lora", "base-weights": "int8",
                              "checkpointing": preset_checkpointing(preset, "lora")}))
    return plan


def train_row(step: argparse.Namespace, device, dtype) -> dict:
    import torch

    from bench.train_step import run_steps

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        row = run_steps(step, device, dtype)
    except Exception as error:  # an out-of-memory row is a result, not the end of the suite
        row = {"preset": step.preset, "adapter": step.adapter, "error": f"{type(error).__name__}: {error}"[:300]}
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def judge_fit(row: dict) -> dict:
    from acestep_train.presets import load_preset

    tier = load_preset(row["preset"]).vram_gb
    peak = row.get("peak_reserved_gb")
    row["tier_gb"] = tier
    row["fits_tier"] = None if peak is None else peak + MARGIN_GB <= tier
    return row


def training_plan(args) -> list[tuple[str, dict]]:
    """(label, train_step options): each preset as shipped, then the variants of one preset."""
    from acestep_train.presets import TIERS
    from acestep_train.train.config import ADAPTER_TYPES

    plan, presets = [], args.presets.split(",") if args.presets else list(TIERS)
    for preset in presets:
        for adapter in ADAPTER_TYPES:
            plan.append(("preset", {"preset": preset, "adapter": adapter,
                                    "checkpointing": preset_checkpointing(preset, adapter)}))
    plan += xl_and_int8_plan(presets)
    base = {"preset": args.variant_preset, "adapter": "lora"}
    flipped = "off" if preset_checkpointing(args.variant_preset, "lora") == "on" else "on"
    plan.append(("variant", {**base, "checkpointing": flipped}))
    plan.append(("variant", {**base, "adapter": "lokr", "checkpointing": flipped}))
    plan.append(("variant", {**base, "checkpointing": preset_checkpointing(args.variant_preset, "lora"),
                             "attention": args.flash_backend}))
    if "compile" not in set(args.skip.split(",")):
        plan.append(("variant", {**base, "checkpointing": preset_checkpointing(args.variant_preset, "lora"),
                                 "compile": "on"}))
    return plan


def run_training_rows(args, device, dtype, deadline: float) -> list[dict]:
    rows = []
    for label, options in training_plan(args):
        if time.monotonic() > deadline:
            rows.append({"kind": label, **options, "skipped": "suite time budget spent"})
            continue
        started = time.monotonic()
        step = step_args(args.size, options["preset"], options["adapter"], args,
                         **{k: v for k, v in options.items() if k not in ("preset", "adapter")})
        row = {"kind": label, **train_row(step, device, dtype), "wall_s": round(time.monotonic() - started, 1)}
        if label in ("preset", "xl", "int8") and "error" not in row:
            judge_fit(row)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def parser() -> argparse.ArgumentParser:
    from bench.common import RESULTS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=["full", "small"], default="full")
    p.add_argument("--presets", default="", help="comma-separated tiers (default: all)")
    p.add_argument("--variant-preset", default="24gb")
    p.add_argument("--flash-backend", default="flash", help="diffusers attention backend for the variant row")
    p.add_argument("--frames", type=int, help="override every crop (the CPU plumbing test uses it)")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=540.0)
    p.add_argument("--skip", default="", help="comma-separated parts to leave out: compile,preprocess,merge")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/acestep-gpu-suite"))
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    return p


def main(argv: list[str] | None = None) -> dict:
    import torch

    from bench.common import write_result
    from bench.gpu_suite_sections import merge_section, preprocess_section

    args = parser().parse_args(argv)
    started = time.monotonic()
    deadline = started + args.budget_s
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    skip = set(filter(None, args.skip.split(",")))
    figures = {"size": args.size, "budget_s": args.budget_s,
               "training": run_training_rows(args, device, dtype, deadline - 120)}
    figures["preset_fit"] = {r["preset"] + "/" + r["adapter"]: r.get("fits_tier")
                             for r in figures["training"] if r.get("kind") == "preset"}
    figures["xl_fit"] = {r["preset"] + "/" + r["adapter"]: r.get("fits_tier")
                         for r in figures["training"] if r.get("kind") == "xl"}
    figures["int8_fit"] = {r["preset"] + "/" + r["adapter"]: r.get("fits_tier")
                           for r in figures["training"] if r.get("kind") == "int8"}
    figures["preprocess"] = preprocess_section(args, device, deadline) if "preprocess" not in skip else \
        {"skipped": "--skip"}
    figures["merge"] = merge_section(args, deadline) if "merge" not in skip else {"skipped": "--skip"}
    figures["suite_seconds"] = round(time.monotonic() - started, 1)
    path = write_result(f"gpu_suite_{args.size}", figures, args.results_dir)
    print(f"gpu suite: {figures['suite_seconds']} s; results in {path}")
    return figures


if __name__ == "__main__":
    main()
