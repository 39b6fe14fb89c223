"""GPU presets: JSON files in ``presets/`` that users can copy and edit, one per VRAM tier.

Each file holds ``title``, ``vram_gb`` (the card it is meant for), ``description``, and a
settings object per adapter type (``lora``, ``lokr``, ``loha``, ``dora``) in the shape of ``TrainConfig``.
``--preset NAME|PATH`` layers a preset under the config file and the flags. A wrong key or
value is refused with the file and the field named. ``expected_memory`` runs the VRAM planner
on the full-size DiT for the preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acestep_train import safe_json
from acestep_train.train.config import ADAPTER_TYPES, config_from_dict

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"
#: a preset made before LoHA / DoRA existed has no "loha" / "dora" settings: it still loads, and refuses only a LoHA run
REQUIRED = ("title", "vram_gb", "lora", "lokr")
PLACEHOLDERS = {"checkpoint_dirs": ["."], "dataset_dir": ".", "output_dir": "."}


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    vram_gb: float
    description: str
    settings: dict  # {"lora": {...}, "lokr": {...}, "loha": {...}, "dora": {...}}: the types the file has
    path: Path

    def for_adapter(self, adapter_type: str) -> dict:
        if adapter_type not in self.settings:
            raise ValueError(f"{self.path}: has no settings for adapter type {adapter_type!r}")
        return self.settings[adapter_type]


def preset_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return path
    return PRESET_DIR / f"{name_or_path}.json"


def load_preset(name_or_path: str) -> Preset:
    path = preset_path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.json")))
        raise FileNotFoundError(f"{path}: no such preset (built-in: {known})")
    data = safe_json.load_file(path)  # ValueError naming the file: malformed, huge or nested too deeply
    for key in REQUIRED:
        if key not in data:
            raise ValueError(f"{path}: missing {key!r}")
    preset = Preset(path.stem, data["title"], float(data["vram_gb"]), data.get("description", ""),
                    {kind: data[kind] for kind in ADAPTER_TYPES if kind in data}, path)
    for adapter_type, settings in preset.settings.items():
        if settings.get("adapter", {}).get("type", adapter_type) != adapter_type:
            raise ValueError(f"{path}: {adapter_type}.adapter.type must be {adapter_type}")
        try:
            config_from_dict({**PLACEHOLDERS, **settings})
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: {adapter_type}: {error}") from error
    return preset


def builtin_presets() -> list[Preset]:
    return [load_preset(str(path)) for path in sorted(PRESET_DIR.glob("*.json"))]


TIERS = ("8gb", "12gb", "16gb", "24gb", "48gb")


def pick_preset(vram_gb: float | None) -> Preset:
    """The largest VRAM tier that fits the card (``quick_test`` when there is no GPU)."""
    if vram_gb is None:
        return load_preset("quick_test")
    fitting = [load_preset(tier) for tier in TIERS if load_preset(tier).vram_gb <= vram_gb + 0.5]
    return fitting[-1] if fitting else load_preset("8gb")


def expected_memory(preset: Preset, adapter_type: str, gradient_checkpointing: bool | None = None) -> dict[str, float]:
    """VRAM planner estimate for the full-size DiT with this preset (checkpointing: the preset's unless given)."""
    from acestep_train.vram import DitShape, RunShape, adapter_params, estimate, has_dropout

    config = config_from_dict({**PLACEHOLDERS, **preset.for_adapter(adapter_type)})
    dit = DitShape()
    a = config.adapter
    params = adapter_params(dit, a)
    checkpointing = config.loop.gradient_checkpointing if gradient_checkpointing is None else gradient_checkpointing
    run = RunShape(params, config.optim.name, config.data.batch_size, config.data.max_latent_length or 6000,
                   gradient_checkpointing=checkpointing, adapter_type=a.type, targets=a.targets, mlp=a.mlp,
                   dropout=has_dropout(a), ema_on_gpu=config.ema.on_gpu)
    return estimate(dit, run)
