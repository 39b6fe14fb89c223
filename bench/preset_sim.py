"""Simulated preset fit: per preset, the measured (meta-device) peak of a full-size step vs its tier.

Used by ``python -m bench preset_fit --simulate``. Each preset and adapter type is measured with
its own settings (``acestep_train.train.memory_sim``); the planner's figure (``presets.expected_memory``)
stands beside it. A preset fails when its measured peak leaves less than 1 GB of its tier, or
when the planner is more than 10 % away from the measurement. ``--variants`` adds the other
checkpointing setting of each preset as information rows (never judged). ``--models 2b,xl`` measures
the XL DiT too (each tier's ``xl`` settings; a tier without them is listed as refusing the XL), int8
base weights included where a tier's settings ask for them. Each small tier (up to 12 GB) also gets
information rows with int8 base weights where it runs at full precision (``INT8_TIERS``).
"""

from __future__ import annotations

import hashlib
import json

MARGIN_GB = 1.0
PLANNER_TOLERANCE = 0.10
INT8_TIERS = ("8gb", "12gb")


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def preset_step(preset, adapter_type: str, checkpointing: bool | None = None, model: str = "2b",
                base_weights: str | None = None):
    from acestep_train.presets import PLACEHOLDERS
    from acestep_train.train.config import config_from_dict
    from acestep_train.train.memory_sim import StepShape

    config = config_from_dict({**PLACEHOLDERS, **preset.for_model(adapter_type, model)})
    ckpt = config.loop.gradient_checkpointing if checkpointing is None else checkpointing
    step = StepShape(config.data.batch_size, config.data.max_latent_length or 6000, ckpt, config.optim.name,
                     ema_on_gpu=config.ema.on_gpu, base_weights=base_weights or config.loop.base_weights)
    return config, step


def measure_row(preset, adapter_type: str, checkpointing: bool | None = None, model: str = "2b",
                base_weights: str | None = None) -> dict:
    """One row; a row with ``checkpointing`` or ``base_weights`` changed from the preset's is information only."""
    from acestep_train.presets import expected_memory
    from acestep_train.train.memory_sim import full_config, simulate

    config, step = preset_step(preset, adapter_type, checkpointing, model, base_weights)
    measured = simulate(config.adapter, step, full_config(model))
    planned = expected_memory(preset, adapter_type, gradient_checkpointing=step.checkpointing, model=model,
                              base_weights=step.base_weights)
    error = (planned["total"] - measured["total"]) / measured["total"]
    judged = checkpointing is None and base_weights is None
    row = {"preset": preset.name, "model": model, "adapter": adapter_type, "tier_gb": preset.vram_gb,
           "batch": step.batch, "crop_frames": step.crop_frames, "checkpointing": step.checkpointing,
           "optimizer": step.optimizer, "base_weights": step.base_weights,
           "measured": measured, "planner_total_gb": planned["total"], "planner_error": round(error, 4),
           "margin_gb": round(preset.vram_gb - measured["total"], 2), "judged": judged,
           "settings_hash": settings_hash(preset.for_model(adapter_type, model))}
    row["fits"] = row["margin_gb"] >= MARGIN_GB
    row["planner_ok"] = abs(error) <= PLANNER_TOLERANCE
    return row


def describe(row: dict) -> str:
    m = row["measured"]
    parts = ", ".join(f"{k} {m[k]:.2f}" for k in ("weights", "adapter", "inputs", "saved_activations",
                                                  "backward_working_set", "overhead"))
    flag = "" if not row["judged"] else ("  OK" if row["fits"] and row["planner_ok"] else "  FAIL")
    return (f"{row['preset']:>5} {row['model']:>2} {row['adapter']:4} b{row['batch']} x {row['crop_frames']} "
            f"gc={'on' if row['checkpointing'] else 'off'} base={row['base_weights']}"
            f" | measured {m['total']:.2f} GB ({parts}) | planner {row['planner_total_gb']:.2f} GB "
            f"({row['planner_error']:+.1%}) | margin {row['margin_gb']:+.2f} GB of {row['tier_gb']:.0f}{flag}")


def run(presets: list[str], variants: bool, models: tuple[str, ...] = ("2b",)) -> dict:
    from acestep_train.presets import load_preset
    from acestep_train.train.config import ADAPTER_TYPES

    rows, refused = [], []
    for model in models:
        for name in presets:
            preset = load_preset(name)
            if model == "xl" and preset.xl is None:
                refused.append(name)
                print(f"{name:>5} xl refused: the preset has no XL settings", flush=True)
                continue
            for adapter_type in ADAPTER_TYPES:
                rows.append(measure_row(preset, adapter_type, model=model))
                print(describe(rows[-1]), flush=True)
                shipped = rows[-1]
                if variants:
                    rows.append(measure_row(preset, adapter_type, not shipped["checkpointing"], model))
                    print(describe(rows[-1]), flush=True)
                if name in INT8_TIERS and shipped["base_weights"] == "full":
                    rows.append(measure_row(preset, adapter_type, model=model, base_weights="int8"))
                    print(describe(rows[-1]), flush=True)
    failures = [r for r in rows if r["judged"] and not (r["fits"] and r["planner_ok"])]
    return {"rows": rows, "failures": len(failures), "xl_refused": refused}
