"""The Train tab's settings -> the ``train`` command line, and the resolved config it will run with.

A blank field (None, "", or "(preset)") means "the preset's value". Layering is the CLI's own:
preset, then the advanced JSON (a ``--config`` file), then the layer estimate, then the flags.
The resolved config is built here only to show it and to refuse a bad setting before a job
starts; the job itself resolves it again from the same files and flags.
"""

from __future__ import annotations

from pathlib import Path

from acestep_train.commands.train import FLAGS
from acestep_train import safe_json
from acestep_train.train.config import config_from_dict, confine_paths, estimate_settings, flatten, merge_settings

PRESET = "(preset)"
#: UI field -> CLI flag (its config field and type come from the CLI's own table)
FIELD_FLAGS = {
    "epochs": "--epochs", "lr": "--lr", "optimizer": "--optimizer", "scheduler": "--scheduler",
    "warmup": "--warmup-steps", "batch": "--batch-size", "grad_accum": "--grad-accum", "crop": "--max-latent-length",
    "save_every": "--save-every", "preview_every": "--preview-every-steps", "trigger": "--trigger-word",
    "seed": "--seed", "targets": "--targets", "rank": "--rank", "alpha": "--alpha", "linear_dim": "--linear-dim",
    "linear_alpha": "--linear-alpha", "factor": "--factor",
}
SWITCH_FLAGS = {"mlp": ("--mlp", "adapter.mlp"), "decompose_both": ("--decompose-both", "adapter.decompose_both")}
ONLY_FOR = {"rank": "lora", "alpha": "lora", "linear_dim": "lokr", "linear_alpha": "lokr", "factor": "lokr",
            "decompose_both": "lokr"}


def blank(value) -> bool:
    return value is None or value == PRESET or (isinstance(value, str) and not value.strip())


def typed(flag: str, value):
    """The value as the CLI parses it: a number field arrives as text."""
    kind = FLAGS[flag][1]
    if kind is str:
        return str(value).strip()
    try:
        number = float(value)
    except ValueError as error:
        raise ValueError(f"{flag[2:]}: {value!r} is not a number") from error
    if kind is int and number != int(number):
        raise ValueError(f"{flag[2:]} must be a whole number, not {value}")
    return kind(number)


def preset_values(preset: dict, adapter: str) -> dict[str, object]:
    """{field name: the preset's value}, to show in the blank fields."""
    placeholders = {"adapter.type": adapter, "checkpoint_dirs": ["."], "dataset_dir": ".", "output_dir": "."}
    flat = flatten(config_from_dict(merge_settings(preset, placeholders)).to_dict())
    return {name: flat[FLAGS[flag][0]] for name, flag in FIELD_FLAGS.items()}


def chosen(values: dict) -> dict[str, object]:
    """{flag: value} for every field the user set (LoRA fields only for LoRA, LoKr fields only for LoKr)."""
    flags = {}
    for name, flag in FIELD_FLAGS.items():
        if ONLY_FOR.get(name, values["adapter"]) == values["adapter"] and not blank(values[name]):
            flags[flag] = typed(flag, values[name])
    return flags


def switches(values: dict) -> list[str]:
    return [flag for name, (flag, _) in SWITCH_FLAGS.items()
            if values[name] and ONLY_FOR.get(name, values["adapter"]) == values["adapter"]]


def advanced_settings(text: str) -> dict:
    if not text.strip():
        return {}
    settings = safe_json.loads(text, "the advanced settings")  # size cap, nesting-depth error
    if not isinstance(settings, dict):
        raise ValueError('the advanced settings must be a JSON object, e.g. {"optim": {"weight_decay": 0.0}}')
    return settings


def resolve(preset: dict, values: dict, paths: dict, estimate: Path | None):
    """The TrainConfig the job would run with (ValueError names a bad field)."""
    layered = merge_settings(preset, flatten(advanced_settings(values["advanced"])))
    if estimate is not None:
        layered = merge_settings(layered, estimate_settings(str(estimate)))
    dotted = {FLAGS[flag][0]: value for flag, value in chosen(values).items()}
    on = switches(values)
    dotted.update({field: True for flag, field in SWITCH_FLAGS.values() if flag in on})
    dotted.update({"adapter.type": values["adapter"], "model_variant": values["model"],
                   "checkpoint_dirs": [str(paths["checkpoints"])], "dataset_dir": str(paths["tensors"]),
                   "output_dir": str(paths["output"])})
    return confine_paths(config_from_dict(merge_settings(layered, dotted)))  # resume_from etc. in the roots


def command(values: dict, paths: dict, extra: list[str]) -> list[str]:
    """``train ...`` for the job: the preset, the user's fields as flags, and ``extra`` (config, resume...)."""
    args = ["train", "--checkpoint-dir", str(paths["checkpoints"]), "--model-variant", values["model"],
            "--preset", values["preset"], "--adapter-type", values["adapter"], "--dataset-dir", str(paths["tensors"]),
            "--output-dir", str(paths["output"])]
    for flag, value in chosen(values).items():
        args += [flag, str(value)]
    return args + switches(values) + extra


def vram_text(config, gpu_total_gb: float | None) -> str:
    """The planner's peak for the full-size DiT with these settings, and whether it fits the card."""
    from acestep_train.vram import DitShape, RunShape, estimate, fit_warning, lora_params

    dit, a = DitShape(), config.adapter
    rank = a.rank if a.type == "lora" else a.linear_dim
    params = lora_params(dit, rank, a.targets in ("self", "both"), a.targets in ("cross", "both"), a.mlp)
    run = RunShape(params, config.optim.name, config.data.batch_size, config.data.max_latent_length or 6000,
                   gradient_checkpointing=config.loop.gradient_checkpointing)
    plan = estimate(dit, run)
    parts = ", ".join(f"{k} {v:.1f}" for k, v in plan.items() if k != "total")
    text = f"VRAM estimate for the full-size model: {plan['total']:.1f} GB ({parts}; analytic planner)"
    warning = fit_warning(plan["total"], gpu_total_gb) if gpu_total_gb else None
    return text + (f"  \n**{warning}**" if warning else "")
