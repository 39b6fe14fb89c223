"""The Train tab's settings -> the ``train`` command line, and the resolved config it will run with.

Choosing a preset fills the fields with its real values; a number field left blank is refused with
its name (a blank never silently means "the preset's value"). Layering is the CLI's own:
preset, then the advanced JSON (a ``--config`` file), then the layer estimate, then the flags.
The resolved config is built here only to show it and to refuse a bad setting before a job
starts; the job itself resolves it again from the same files and flags.
"""

from __future__ import annotations

from pathlib import Path

from acestep_train.commands.train import FLAGS, SWITCHES
from acestep_train import safe_json
from acestep_train.paths import confine
from acestep_train.train.config import config_from_dict, confine_paths, estimate_settings, flatten, merge_settings
from app.forms import TrainForm

PRESET = "(preset)"
#: UI field -> CLI flag (its config field and type come from the CLI's own table)
FIELD_FLAGS = {
    "epochs": "--epochs", "lr": "--lr", "optimizer": "--optimizer", "scheduler": "--scheduler",
    "warmup": "--warmup-steps", "batch": "--batch-size", "grad_accum": "--grad-accum", "crop": "--max-latent-length",
    "save_every": "--save-every", "preview_every": "--preview-every-steps", "trigger": "--trigger-word",
    "seed": "--seed", "targets": "--targets", "rank": "--rank", "alpha": "--alpha", "linear_dim": "--linear-dim",
    "linear_alpha": "--linear-alpha", "factor": "--factor", "preview_caption": "--preview-caption",
    "preview_lyrics": "--preview-lyrics", "preview_seed": "--preview-seed",
    "val_every": "--val-every-steps", "val_fraction": "--val-fraction", "nodes": "--num-nodes",
    "base_weights": "--base-weights",
}
#: check boxes -> their flag (its field: the CLI's ``SWITCHES``)
SWITCH_FLAGS = {"mlp": "--mlp", "decompose_both": "--decompose-both", "ema": "--ema", "ema_on_cpu": "--ema-on-cpu",
                "ema_previews": "--ema-previews"}
#: the number fields' labels, for messages that name the field
LABELS = {"rank": "LoRA / DoRA rank", "alpha": "LoRA / DoRA alpha", "linear_dim": "LoKr / LoHA dim",
          "linear_alpha": "LoKr / LoHA alpha",
          "factor": "LoKr factor (-1: near-square)", "epochs": "Epochs", "lr": "Learning rate",
          "warmup": "Warmup steps", "batch": "Batch", "grad_accum": "Gradient accumulation",
          "crop": "Crop frames, 25 per second", "save_every": "Save every N epochs",
          "preview_every": "Preview every N steps (0: off)", "seed": "Seed",
          "preview_seed": "Preview seed", "val_every": "Validation every N steps (0: off)",
          "val_fraction": "Validation: share of songs held out", "nodes": "Machines (nodes)"}
#: the smallest value each number field accepts
MINIMUM = {"rank": 1, "alpha": 0, "linear_dim": 1, "linear_alpha": 0, "epochs": 1, "lr": 0, "warmup": 0,
           "batch": 1, "grad_accum": 1, "crop": 0, "save_every": 0, "preview_every": 0, "seed": 0,
           "preview_seed": 0, "val_every": 0, "val_fraction": 0, "nodes": 1}
ABOVE = {"lr"}  # fields that must be above their minimum, not equal to it
#: the EMA decay (``ema_flags``): asked for only with the EMA on
EMA_DECAY = ("EMA decay", "--ema-decay")
#: the adapter kinds each field belongs to (a field not named here belongs to every kind)
ONLY_FOR = {"rank": ("lora", "dora"), "alpha": ("lora", "dora"), "linear_dim": ("lokr", "loha"),
            "linear_alpha": ("lokr", "loha"), "factor": ("lokr",), "decompose_both": ("lokr",)}


def belongs(name: str, adapter: str) -> bool:
    return adapter in ONLY_FOR.get(name, (adapter,))


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
        raise ValueError(f"{value!r} is not a number") from error
    if kind is int and number != int(number):
        raise ValueError(f"must be a whole number, not {value}")
    return kind(number)


def preset_values(preset: dict, adapter: str) -> dict[str, object]:
    """{field name: the preset's value}, to show in the blank fields."""
    placeholders = {"adapter.type": adapter, "checkpoint_dirs": ["."], "dataset_dir": ".", "output_dir": "."}
    flat = flatten(config_from_dict(merge_settings(preset, placeholders)).to_dict())
    return {name: flat[FLAGS[flag][0]] for name, flag in FIELD_FLAGS.items()}


def check_number(name: str, value) -> None:
    """A number field must hold a number within its range; the message names the field."""
    label = LABELS[name]
    if blank(value):
        raise ValueError(f"{label}: enter a number (choosing a preset fills in its value)")
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{label}: {value!r} is not a number") from error
    low = MINIMUM.get(name, float("-inf"))
    if number < low or (name in ABOVE and number <= low):
        raise ValueError(f"{label} must be {'above' if name in ABOVE else 'at least'} {low}; {number:g} was typed")


def readable(message: str) -> str:
    """A config error in the field names the Train tab shows: "optim.lr must be > 0" -> "Learning rate (optim.lr) ..."."""
    labels = {FLAGS[flag][0]: LABELS[name] for name, flag in FIELD_FLAGS.items() if name in LABELS}
    labels[FLAGS[EMA_DECAY[1]][0]] = EMA_DECAY[0]
    for dotted, label in labels.items():
        if message.startswith(dotted + " "):
            return f"{label} ({dotted}){message[len(dotted):]}"
    return message


def chosen(form: TrainForm) -> dict[str, object]:
    """{flag: value} for every field of the chosen adapter kind (``ONLY_FOR``: LoRA rank only for LoRA, ...).

    A blank number field is refused with its name; a blank text or "(preset)" choice keeps the preset's.
    """
    flags = {}
    for name, flag in FIELD_FLAGS.items():
        if not belongs(name, form.adapter):
            continue
        value = getattr(form, name)
        if name in LABELS:
            check_number(name, value)
        if not blank(value):
            try:
                flags[flag] = typed(flag, value)
            except ValueError as error:
                raise ValueError(f"{LABELS.get(name, name)}: {error}") from error
    return flags


def ema_flags(form: TrainForm) -> dict[str, object]:
    """{flag: value} of the EMA decay when the EMA is on (its switches are ``SWITCH_FLAGS``); a blank one is refused
    by name."""
    flags: dict[str, object] = {}
    if form.ema:
        label, flag = EMA_DECAY
        if blank(form.ema_decay):
            raise ValueError(f"{label}: enter a number below 1, e.g. 0.999")
        try:
            flags[flag] = typed(flag, form.ema_decay)
        except ValueError as error:
            raise ValueError(f"{label}: {error}") from error
    return flags


def switches(form: TrainForm) -> list[str]:
    return [flag for name, flag in SWITCH_FLAGS.items() if getattr(form, name) and belongs(name, form.adapter)]


def advanced_settings(text: str) -> dict:
    if not text.strip():
        return {}
    settings = safe_json.loads(text, "the advanced settings")  # size cap, nesting-depth error
    if not isinstance(settings, dict):
        raise ValueError('the advanced settings must be a JSON object, e.g. {"optim": {"weight_decay": 0.0}}')
    return settings


def resolve(preset: dict, form: TrainForm, paths: dict, estimate: Path | None):
    """The TrainConfig the job would run with (ValueError names a bad field)."""
    advanced = flatten(advanced_settings(form.advanced))
    layered = merge_settings(preset, advanced)
    chosen_estimate = estimate or advanced.get("from_estimate")  # the job's order: the flag, then the file
    if chosen_estimate:  # held to the roots before it is opened, in the job's words
        layered = merge_settings(layered, estimate_settings(str(confine(chosen_estimate, "from_estimate"))))
    dotted = {FLAGS[flag][0]: value for flag, value in {**chosen(form), **ema_flags(form)}.items()}
    dotted.update({SWITCHES[flag]: True for flag in switches(form)})
    dotted.update({"adapter.type": form.adapter, "model_variant": form.model,
                   "checkpoint_dirs": [str(paths["checkpoints"])], "dataset_dir": str(paths["tensors"]),
                   "output_dir": str(paths["output"])})
    return confine_paths(config_from_dict(merge_settings(layered, dotted)))  # resume_from etc. in the roots


def command(form: TrainForm, paths: dict, extra: list[str]) -> list[str]:
    """The ``train`` job's arguments: the preset, the user's fields as flags, and ``extra`` (config, resume...)."""
    args = ["--checkpoint-dir", str(paths["checkpoints"]), "--model-variant", form.model,
            "--preset", form.preset, "--adapter-type", form.adapter, "--dataset-dir", str(paths["tensors"]),
            "--output-dir", str(paths["output"])]
    for flag, value in {**chosen(form), **ema_flags(form)}.items():
        args += [flag, str(value)]
    return args + switches(form) + extra


def vram_text(config, gpu_total_gb: float | None, model: str = "2b") -> str:
    """The planner's peak for the full-size DiT (``2b`` or ``xl``) with these settings, and whether it fits the card."""
    from acestep_train.vram import fit_warning, planned

    plan = planned(config, model)
    parts = ", ".join(f"{k} {v:.1f}" for k, v in plan.items() if k != "total")
    name = "XL model" if model == "xl" else "full-size model"
    base = "; int8 base weights" if config.loop.base_weights == "int8" else ""
    text = f"VRAM estimate for the {name}: {plan['total']:.1f} GB ({parts}; analytic planner{base})"
    warning = fit_warning(plan["total"], gpu_total_gb) if gpu_total_gb else None
    return text + (f"  \n**{warning}**" if warning else "")
