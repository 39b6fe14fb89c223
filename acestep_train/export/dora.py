"""DoRA (PEFT ``use_dora``): its factors, its weight, and the files each consumer loads.

A DoRA layer holds a LoRA (``A`` [r, in], ``B`` [out, r], scale ``s = alpha / r``) and a magnitude
vector ``m`` [out]. With ``V = W + s B A`` it applies, per output row ``i``,

    W'_i = m_i / ||V_i|| * V_i                      (PEFT ``DoraLinearLayer``: norm over dim 1)

so its weight change ``W' - W`` depends on the base weight ``W``: it is no LoRA delta, and the
row rescaling of ``W`` makes it full-rank in general (a "DoRA baked to LoRA" at the adapter's
rank is not exact). What each consumer does (read from their loaders):

- ACE-Step 1.5's UI: ``PeftModel.from_pretrained(decoder, folder)``; ``adapter_config.json`` with
  ``use_dora: true`` and ``lora_magnitude_vector`` keys rebuild the same DoRA layer: exact.
- diffusers ``load_lora_weights``: converts ``q_proj`` names (the key keeps ``lora_magnitude_vector``,
  which contains "lora"), and ``get_peft_kwargs`` sets ``use_dora`` when any key holds
  ``lora_magnitude_vector``: exact, in the same file.
- ComfyUI: ``load_lora`` reads the magnitude only as ``<name>.dora_scale``; a ``lora_magnitude_vector``
  key is "not loaded" and the rest applies as a plain LoRA (wrong sound). With ``dora_scale`` of
  shape [out, 1] it takes the output-axis branch of ``weight_decompose``, which divides by the norm
  of the *base* weight plus eps (``||W_i|| + eps``), not of ``V``. So the ComfyUI file carries
  ``m_i * (||W_i|| + eps) / ||V_i||``: exact, but only on the base model it was computed from.

Strength: a DoRA at strength ``t`` means ``W + t (W' - W)`` (ComfyUI's rule, our previews and
merge). PEFT's runtime scale (``set_adapters``, ``set_lora_scale``) enters the norm and gives a
different weight; exports are written at strength 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from acestep_train.atomic import atomic_write_json
from acestep_train.export.adapter_state import Adapter, LoraFactors
from acestep_train.export.model_check import check_shapes
from acestep_train.export.names import original_module
from acestep_train.export.readers import lora_from_state, module_name
from acestep_train.export.writers import (
    LORA_FILE,
    lora_peft_config,
    lora_universal_state,
    save_tensors,
    studio_metadata,
)

DORA_COMFYUI_FILE = "dora_comfyui.safetensors"
#: per format: how the consumer loads our DoRA file, and what it does with a DoRA it cannot read as one
CONSUMERS = {
    "acestep": "ACE-Step UI: choose the folder {folder} as the LoRA path; its PeftModel.from_pretrained reads "
               "use_dora and the magnitude vectors, so it plays the DoRA exactly. Leave its LoRA scale at 1.0: "
               "PEFT's scale enters the DoRA norm, so other scales differ from the previews' strengths.",
    "comfyui": "ComfyUI: copy {file} into ComfyUI/models/loras/ and pick it in a LoraLoaderModelOnly node at "
               "strength 1.0. Its dora_scale was computed on {base}: exact on that model only. (A PEFT DoRA file "
               "would lose its magnitude in ComfyUI, 'lora key not loaded', and play as a plain LoRA: wrong sound.)",
    "diffusers": "diffusers: pipe.load_lora_weights(\"{folder}\", weight_name=\"{name}\"); it sees "
                 "lora_magnitude_vector and builds DoRA layers: exact at adapter weight 1.0 (set_adapters with "
                 "another weight rescales inside the norm, unlike the previews).",
}
NEAREST_EXACT = ("DoRA is not a plain LoRA: its magnitude vector rescales every row of the base weight, a full-rank "
                 "change, so a 'DoRA baked to LoRA' at the trained rank is NOT exact. For a program that cannot load "
                 "DoRA the exact forms are the merged model (Merge below) or the full-rank weight change.")
MAGNITUDE = "lora_magnitude_vector"
COMFYUI_EPS = torch.finfo(torch.float32).eps  # ComfyUI patches in fp32 here (fp16 on GPUs that prefer it)


@dataclass
class DoraFactors:
    lora: LoraFactors  # the direction's low-rank update
    magnitude: torch.Tensor  # m: [out]

    @property
    def alpha(self) -> float:
        return self.lora.alpha

    @property
    def rank(self) -> int:
        return self.lora.rank

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        return {"down": self.lora.down, "up": self.lora.up, "magnitude": self.magnitude}

    @property
    def shape(self) -> tuple[int, int]:
        return self.lora.shape

    def delta(self) -> torch.Tensor:
        raise ValueError("a DoRA's weight change depends on the base weight: use Adapter.deltas(base=...)")

    def direction(self, base: torch.Tensor) -> torch.Tensor:
        """``V = W + s B A`` in fp32."""
        return base.float() + self.lora.delta()

    def weight_on(self, base: torch.Tensor) -> torch.Tensor:
        direction = self.direction(base)
        return (self.magnitude.float() / torch.linalg.norm(direction, dim=1))[:, None] * direction

    def delta_on(self, base: torch.Tensor) -> torch.Tensor:
        return self.weight_on(base) - base.float()

    def comfyui_scale(self, base: torch.Tensor) -> torch.Tensor:
        """``dora_scale`` [out, 1] that makes ComfyUI's output-axis rule give exactly ``weight_on(base)``."""
        base_norm = torch.linalg.norm(base.float(), dim=1) + COMFYUI_EPS
        return (self.magnitude.float() * base_norm / torch.linalg.norm(self.direction(base), dim=1))[:, None]


def dora_from_state(state: dict[str, torch.Tensor], config: dict | None = None) -> Adapter:
    """PEFT DoRA tensors (any LoRA naming ``lora_from_state`` reads, plus ``<module>.lora_magnitude_vector``)."""
    magnitudes = {key[: -len(MAGNITUDE) - 1]: tensor for key, tensor in state.items() if key.endswith("." + MAGNITUDE)}
    lora = lora_from_state({k: v for k, v in state.items() if not k.endswith("." + MAGNITUDE)}, config)
    by_module = {module_name(key): tensor for key, tensor in magnitudes.items()}
    if by_module.keys() != lora.modules.keys():
        odd = sorted(set(by_module) ^ set(lora.modules))[:3]
        raise ValueError(f"DoRA modules need both a LoRA pair and a {MAGNITUDE} (mismatched: {odd})")
    modules = {name: DoraFactors(factors, by_module[name]) for name, factors in lora.modules.items()}
    return Adapter("dora", modules)


def peft_state(adapter: Adapter) -> dict[str, torch.Tensor]:
    """The universal LoRA layout (``writers.lora_universal_state``) plus each module's magnitude."""
    state = lora_universal_state(_lora_parts(adapter))
    for module, factors in adapter.modules.items():
        state[f"base_model.model.{original_module(module)}.{MAGNITUDE}"] = factors.magnitude.float()
    return state


def _lora_parts(adapter: Adapter) -> Adapter:
    if adapter.kind != "dora":
        raise ValueError(f"a DoRA writer needs a DoRA adapter, got {adapter.kind}")
    return Adapter("lora", {name: factors.lora for name, factors in adapter.modules.items()}, adapter.metadata)


def write_dora(adapter: Adapter, out_dir: Path) -> Path:
    """The PEFT folder ACE-Step's UI (the folder) and diffusers (the file) load as DoRA."""
    out_dir.mkdir(parents=True, exist_ok=True)
    save_tensors(out_dir / LORA_FILE, peft_state(adapter), studio_metadata(adapter))
    atomic_write_json(out_dir / "adapter_config.json", {**lora_peft_config(_lora_parts(adapter)), "use_dora": True})
    atomic_write_json(out_dir / "acestep_studio.json", adapter.metadata)
    return out_dir / LORA_FILE


def comfyui_state(adapter: Adapter, base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = lora_universal_state(_lora_parts(adapter))  # no .alpha: ComfyUI's scale 1, s baked into lora_B
    for module, factors in adapter.modules.items():
        state[f"base_model.model.{original_module(module)}.dora_scale"] = factors.comfyui_scale(base[module])
    return state


def write_dora_comfyui(adapter: Adapter, out_dir: Path, base: dict[str, torch.Tensor], base_name: str) -> Path:
    """``dora_comfyui.safetensors``: LoRA keys plus ``dora_scale`` [out, 1] computed on ``base`` (named ``base_name``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tagged = Adapter("dora", adapter.modules, {**adapter.metadata, "dora_scale_computed_on": base_name})
    save_tensors(out_dir / DORA_COMFYUI_FILE, comfyui_state(adapter, base), studio_metadata(tagged))
    atomic_write_json(out_dir / "acestep_studio.json", tagged.metadata)
    return out_dir / DORA_COMFYUI_FILE


def comfyui_applied(state: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{module: W' - W} from a ComfyUI DoRA file: output-axis rule, ``dora_scale / (||W|| + eps)``."""
    scales = {k[: -len(".dora_scale")]: v for k, v in state.items() if k.endswith(".dora_scale")}
    lora = lora_from_state({k: v for k, v in state.items() if not k.endswith(".dora_scale")})
    result = {}
    for key, scale in scales.items():  # ComfyUI's weight_decompose, output axis, strength 1
        module = module_name(key)
        weight = base[module].float()
        calc = weight + lora.modules[module].delta()
        result[module] = calc * (scale.float() / (torch.linalg.norm(weight, dim=1, keepdim=True) + COMFYUI_EPS)) - weight
    if result.keys() != lora.modules.keys():
        raise ValueError("a ComfyUI DoRA file needs a dora_scale for every LoRA pair")
    return result


def base_weights(adapter: Adapter, info) -> dict[str, torch.Tensor]:
    """The base model's weight of every module the adapter changes (read from its safetensors file)."""
    from safetensors import safe_open

    targets = check_shapes(adapter, info)
    with safe_open(str(info.files.transformer_weights), framework="pt", device="cpu") as source:
        return {module: source.get_tensor(key) for key, module in targets.items()}
