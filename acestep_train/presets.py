"""GPU presets: JSON files in ``presets/`` that users can copy and edit, one per VRAM tier.

Each file holds ``title``, ``vram_gb`` (the card it is meant for), ``description``, a settings
object per adapter type (``lora``, ``lokr``, ``loha``, ``dora``) in the shape of ``TrainConfig``, and
optionally ``xl``: how the tier trains the XL DiT (hidden 2560, ~4.2 B parameters): ``description``,
``settings`` laid over every adapter type's, and per adapter type its own overrides. A tier without
``xl`` refuses the XL models. ``--preset NAME|PATH`` layers a preset under the config file and
the flags. A wrong key or value is refused with the file and the field named. ``expected_memory``
runs the VRAM planner on the full-size DiT (2 B or XL) for the preset; ``check_fits`` refuses a
run the planner says will not fit the tier, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acestep_train import safe_json
from acestep_train.train.config import ADAPTER_TYPES, config_from_dict, flatten, merge_settings

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"
#: a preset made before LoHA / DoRA existed has no "loha" / "dora" settings: it still loads, and refuses only a LoHA run
REQUIRED = ("title", "vram_gb", "lora", "lokr")
PLACEHOLDERS = {"checkpoint_dirs": ["."], "dataset_dir": ".", "output_dir": "."}
MODELS = ("2b", "xl")
MARGIN_GB = 1.0  # what a tier must leave free


class PresetRefused(ValueError):
    """The chosen tier cannot train this model with these settings; the message says why."""


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    vram_gb: float
    description: str
    settings: dict  # {"lora": {...}, "lokr": {...}, "loha": {...}, "dora": {...}}: the types the file has
    path: Path
    xl: dict | None = None  # {"description", "settings", optional per adapter type}; None: XL refused

    def for_adapter(self, adapter_type: str) -> dict:
        if adapter_type not in self.settings:
            raise ValueError(f"{self.path}: has no settings for adapter type {adapter_type!r}")
        return self.settings[adapter_type]

    def for_model(self, adapter_type: str, model: str) -> dict:
        """The settings for ``model`` (``2b`` or ``xl``); ``PresetRefused`` when the tier has no XL settings."""
        settings = self.for_adapter(adapter_type)
        if model == "2b":
            return settings
        if model != "xl":
            raise ValueError(f"model must be one of {MODELS}, not {model!r}")
        if self.xl is None:
            raise PresetRefused(f"preset {self.name} ({self.title}) has no settings for the XL models: "
                                f"choose one of {', '.join(xl_tiers())}")
        for layer in (self.xl.get("settings", {}), self.xl.get(adapter_type, {})):
            settings = merge_settings(settings, flatten(layer))
        return settings


def preset_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return path
    return PRESET_DIR / f"{name_or_path}.json"


def _check_xl(path: Path, xl) -> None:
    if not isinstance(xl, dict):
        raise ValueError(f"{path}: xl must be an object")
    unknown = set(xl) - {"description", "settings", *ADAPTER_TYPES}
    if unknown:
        raise ValueError(f"{path}: xl has unknown key {sorted(unknown)[0]!r}")


def load_preset(name_or_path: str) -> Preset:
    path = preset_path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.json")))
        raise FileNotFoundError(f"{path}: no such preset (built-in: {known})")
    data = safe_json.load_file(path)  # ValueError naming the file: malformed, huge or nested too deeply
    for key in REQUIRED:
        if key not in data:
            raise ValueError(f"{path}: missing {key!r}")
    if "xl" in data:
        _check_xl(path, data["xl"])
    preset = Preset(path.stem, data["title"], float(data["vram_gb"]), data.get("description", ""),
                    {kind: data[kind] for kind in ADAPTER_TYPES if kind in data}, path, data.get("xl"))
    for adapter_type, settings in preset.settings.items():
        if settings.get("adapter", {}).get("type", adapter_type) != adapter_type:
            raise ValueError(f"{path}: {adapter_type}.adapter.type must be {adapter_type}")
        for model in MODELS if preset.xl is not None else ("2b",):
            try:
                config_from_dict({**PLACEHOLDERS, **preset.for_model(adapter_type, model)})
            except (ValueError, TypeError) as error:
                where = adapter_type if model == "2b" else f"xl: {adapter_type}"
                raise ValueError(f"{path}: {where}: {error}") from error
    return preset


def builtin_presets() -> list[Preset]:
    return [load_preset(str(path)) for path in sorted(PRESET_DIR.glob("*.json"))]


TIERS = ("8gb", "12gb", "16gb", "24gb", "48gb")


def xl_tiers() -> list[str]:
    """The built-in tiers that train the XL models."""
    return [tier for tier in TIERS if load_preset(tier).xl is not None]


def pick_preset(vram_gb: float | None) -> Preset:
    """The largest VRAM tier that fits the card (``quick_test`` when there is no GPU)."""
    if vram_gb is None:
        return load_preset("quick_test")
    fitting = [load_preset(tier) for tier in TIERS if load_preset(tier).vram_gb <= vram_gb + 0.5]
    return fitting[-1] if fitting else load_preset("8gb")


def expected_memory(preset: Preset, adapter_type: str, gradient_checkpointing: bool | None = None,
                    model: str = "2b", base_weights: str | None = None) -> dict[str, float]:
    """VRAM planner estimate for the full-size DiT (``2b`` or ``xl``) with this preset (checkpointing and base
    weights: the preset's unless given)."""
    from acestep_train.vram import planned

    config = config_from_dict({**PLACEHOLDERS, **preset.for_model(adapter_type, model)})
    if gradient_checkpointing is not None:
        config.loop.gradient_checkpointing = gradient_checkpointing
    if base_weights is not None:
        config.loop.base_weights = base_weights
    return planned(config, model)


def check_fits(preset: Preset, config, model: str) -> dict[str, float]:
    """The planner's peak for ``config`` on ``model``; ``PresetRefused`` naming why when it leaves < 1 GB of the tier."""
    from acestep_train.vram import fit_warning, planned

    plan = planned(config, model)
    if fit_warning(plan["total"], preset.vram_gb, MARGIN_GB) is None:
        return plan
    parts = ", ".join(f"{k} {v:.1f} GB" for k, v in plan.items() if k != "total")
    hint = ("--base-weights int8 (8-bit frozen base weights), " if config.loop.base_weights == "full" else "")
    raise PresetRefused(
        f"preset {preset.name} ({preset.vram_gb:.0f} GB) cannot train the {model.upper()} DiT with these settings: "
        f"the planner's peak is {plan['total']:.1f} GB ({parts}), over the {preset.vram_gb - MARGIN_GB:.0f} GB "
        f"the tier leaves after 1 GB to spare; use {hint}gradient checkpointing, batch 1, a shorter crop, "
        f"an 8-bit optimizer, or a larger tier")
