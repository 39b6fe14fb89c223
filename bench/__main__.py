"""``python -m bench <name> [options]``: run one benchmark; results land in bench/results/."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "train_step": "step time, samples/s, memory and MFU of a training step (full size on a GPU)",
    "preset_fit": "measured peak memory of every preset vs its card",
    "preprocess": "preprocessing throughput (tiny model, CPU)",
    "train_overhead": "our training step vs a bare PyTorch step",
    "merge_peak_ram": "peak RAM of merging a LoRA into the full-size model on CPU",
    "scan": "seconds to scan 1,000 songs",
    "gpu-suite": "one-shot GPU suite: every preset's step, variants, fit, preprocessing, merge (about 6 min)",
    "fullsize_cpu": "full-size DiT on the CPU: one LoRA and one LoKr step, save, export, merge (not in CI)",
    "analysis": "BPM / key / meter accuracy and seconds per song on the synthetic evaluation set",
    "ui_start": "UI start to first response, and time to show a 1,000-song dataset",
    "idle_cpu": "CPU that an idle studio page costs (Chromium and server) on one tab for a minute",
    "crash_resume": "kill -9 a tiny training run at random moments; resume from latest every time",
    "validation_cost": "seconds of a validation evaluation, and as a fraction of a training step (CPU run)",
    "ema_cost": "milliseconds of the adapter EMA's update per step, beside a tiny training step (CPU run)",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print("usage: python -m bench <name> [options]\n" + "\n".join(f"  {k:15s} {v}" for k, v in BENCHMARKS.items()))
        return 2
    module = importlib.import_module(f"bench.{sys.argv[1].replace('-', '_')}")
    module.main(sys.argv[2:])
    return 0


sys.exit(main())
