"""Does every preset fit its card? Measured peak memory of a training step vs the tier's VRAM.

Each preset and adapter type runs ``train_step`` in its own process (so peaks do not mix) at
the preset's batch and crop. On a GPU with ``--size full`` a preset fails when its peak
reserved memory leaves less than 1 GB of its tier; the exit status is 1 then. On a CPU
(``--size small``) only the harness runs: figures are recorded, nothing is judged.
``--simulate`` needs no GPU: it measures each preset's full-size step on the meta device
(``bench/preset_sim.py``), prints the breakdown, the planner's figure and the margin, and fails
when a preset leaves less than 1 GB or the planner is more than 10 % off.

    python -m bench preset_fit --size full
    python -m bench preset_fit --simulate [--variants] [--models 2b,xl]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

MARGIN_GB = 1.0


def measure(preset: str, adapter: str, size: str, steps: int, extra: list[str], results: Path) -> dict:
    command = [sys.executable, "-m", "bench.train_step", "--size", size, "--preset", preset, "--adapter", adapter,
               "--steps", str(steps), "--warmup", "1", "--results-dir", str(results / "steps"), *extra]
    result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    from acestep_train.presets import TIERS, load_preset
    from acestep_train.train.config import ADAPTER_TYPES
    from bench.common import RESULTS, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["full", "small"], default="small")
    parser.add_argument("--presets", default=",".join(TIERS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--frames", type=int, help="override the crop (the small harness test uses it)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--simulate", action="store_true", help="measure on the meta device; no GPU needed")
    parser.add_argument("--variants", action="store_true", help="with --simulate: also the other checkpointing")
    parser.add_argument("--models", default="2b,xl", help="with --simulate: 2b, xl or both (default both)")
    args = parser.parse_args(argv)
    if args.simulate:
        from bench.preset_sim import run

        result = run(args.presets.split(","), args.variants, tuple(args.models.split(",")))
        write_result("preset_fit_simulated", result, args.results_dir)
        if result["failures"]:
            raise SystemExit(1)
        return result
    extra = ["--frames", str(args.frames)] if args.frames else []
    rows, failures = [], []
    for name in args.presets.split(","):
        preset = load_preset(name)
        for adapter in ADAPTER_TYPES:
            figures = measure(name, adapter, args.size, args.steps, extra, args.results_dir)
            peak = figures.get("peak_reserved_gb")
            fits = None if peak is None else peak + MARGIN_GB <= preset.vram_gb
            row = {"preset": name, "adapter": adapter, "tier_gb": preset.vram_gb, "peak_gb": peak, "fits": fits,
                   **{k: figures[k] for k in ("step_s", "samples_per_s", "error") if k in figures}}
            rows.append(row)
            if fits is False or "error" in figures:
                failures.append(row)
            print(json.dumps(row))
    write_result(f"preset_fit_{args.size}", {"rows": rows, "failures": len(failures)}, args.results_dir)
    if failures and args.size == "full":
        raise SystemExit(1)
    return {"rows": rows, "failures": failures}


if __name__ == "__main__":
    main()
