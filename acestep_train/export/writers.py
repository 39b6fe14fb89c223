"""Write adapters in the layouts their consumers load (see FACTS.md, "What each consumer loads").

LoRA, one file for all three consumers: original module names (``q_proj`` ...), prefix
``base_model.model.``, no ``.alpha`` tensors, ``lora_B`` pre-multiplied by alpha/r, and
an ``adapter_config.json`` with ``lora_alpha = r`` (and per-module ``rank_pattern`` =
``alpha_pattern``). ACE-Step's UI (``PeftModel.from_pretrained`` on the decoder), diffusers
(``load_lora_weights`` converts ``q_proj`` names; no alpha metadata means scale 1) and
ComfyUI (no ``.alpha`` means scale 1) then all apply exactly the trained delta.

LoKr for ACE-Step's UI and ComfyUI: ``lokr_weights.safetensors`` with LyCORIS keys on
the decoder's original names (``lycoris_layers_N_self_attn_q_proj.lokr_w1``, ``.alpha``),
the ``lokr_config`` JSON in the safetensors metadata and a ``lokr_config.json`` sidecar. Its
``target_modules`` lists the exact decoder paths trained (``layers.0.self_attn.q_proj`` ...):
ACE-Step's loader passes them to LyCORIS as ``target_name`` (exact names match there), so a
loader restricted to the targets wraps exactly the trained layers. (ACE-Step leaves LyCORIS's
class default ``target_module`` on, which wraps every Linear anyway; our keys all land.)
LoKr for diffusers: diffusers names with the scale baked into ``lokr_w1`` (diffusers
infers alpha = rank, scale 1), loaded with ``transformer.load_lora_adapter``; for
``pipe.load_lora_weights``, export with ``lokr_to_lora`` (``lokr_to_lora.py``): its exact LoRA form
in the LoRA layout above.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import torch

from acestep_train.atomic import atomic_path, atomic_write_json
from acestep_train.export.adapter_state import Adapter, LokrFactors, LoraFactors
from acestep_train.export.names import lycoris_name, original_module

LORA_FILE = "adapter_model.safetensors"
LOKR_FILE = "lokr_weights.safetensors"
LOHA_FILE = "loha_weights.safetensors"  # written by ``loha.write_loha_lycoris``
LOKR_DIFFUSERS_FILE = "lokr_diffusers.safetensors"
METADATA_KEY = "acestep_studio"


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def studio_metadata(adapter: Adapter) -> dict[str, str]:
    return {METADATA_KEY: json.dumps(adapter.metadata, sort_keys=True)}


def lora_universal_state(adapter: Adapter) -> dict[str, torch.Tensor]:
    state = {}
    for module, factors in adapter.modules.items():
        assert isinstance(factors, LoraFactors)
        key = f"base_model.model.{original_module(module)}"
        state[f"{key}.lora_A.weight"] = factors.down.float()
        state[f"{key}.lora_B.weight"] = factors.up.float() * factors.scale
    return state


def lora_peft_config(adapter: Adapter) -> dict:
    ranks = {original_module(m): f.rank for m, f in adapter.modules.items()}
    common = Counter(ranks.values()).most_common(1)[0][0]
    pattern = {module: rank for module, rank in ranks.items() if rank != common}
    return {
        "peft_type": "LORA",
        "task_type": None,
        "r": common,
        "lora_alpha": common,  # the scale is baked into lora_B
        "rank_pattern": pattern,
        "alpha_pattern": dict(pattern),
        "target_modules": sorted(ranks),  # full paths: a leaf name would also wrap modules never trained
        "lora_dropout": 0.0,
        "bias": "none",
        "base_model_name_or_path": None,  # a name here makes PEFT look it up on the hub; see acestep_studio.json
    }


def write_lora(adapter: Adapter, out_dir: Path) -> Path:
    """The PEFT folder every consumer loads (ACE-Step UI: the folder; diffusers/ComfyUI: the file)."""
    if adapter.kind != "lora":
        raise ValueError(f"write_lora needs a LoRA adapter, got {adapter.kind}")
    out_dir.mkdir(parents=True, exist_ok=True)
    save_tensors(out_dir / LORA_FILE, lora_universal_state(adapter), studio_metadata(adapter))
    atomic_write_json(out_dir / "adapter_config.json", lora_peft_config(adapter))
    atomic_write_json(out_dir / "acestep_studio.json", adapter.metadata)
    return out_dir / LORA_FILE


def lokr_export_config(adapter: Adapter) -> dict:
    """The LyCORIS kwargs plus ``target_modules``: the decoder paths trained, exactly."""
    return {**adapter.lokr_config, "target_modules": sorted(original_module(m) for m in adapter.modules)}


def lycoris_state(adapter: Adapter) -> dict[str, torch.Tensor]:
    """LyCORIS keys on the decoder's original names: ``lycoris_<flat name>.<factor>`` and ``.alpha``."""
    state = {}
    for module, factors in adapter.modules.items():
        flat = lycoris_name(original_module(module))
        state.update({f"{flat}.{name}": tensor for name, tensor in factors.tensors.items()})
        state[f"{flat}.alpha"] = torch.tensor(float(factors.alpha))
    return state


def write_lycoris(adapter: Adapter, out_dir: Path, weights_file: str, config_key: str) -> Path:
    """``weights_file`` (``lycoris_state``), its config as ``config_key`` metadata and ``<config_key>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config = lokr_export_config(adapter)
    save_tensors(out_dir / weights_file, lycoris_state(adapter),
                 {config_key: json.dumps(config, sort_keys=True), **studio_metadata(adapter)})
    atomic_write_json(out_dir / f"{config_key}.json", config)
    atomic_write_json(out_dir / "acestep_studio.json", adapter.metadata)
    return out_dir / weights_file


def write_lokr_lycoris(adapter: Adapter, out_dir: Path) -> Path:
    """``lokr_weights.safetensors`` on original names + ``lokr_config`` (ACE-Step UI, ComfyUI)."""
    if adapter.kind != "lokr":
        raise ValueError(f"write_lokr_lycoris needs a LoKr adapter, got {adapter.kind}")
    return write_lycoris(adapter, out_dir, LOKR_FILE, "lokr_config")


def write_lokr_diffusers(adapter: Adapter, out_dir: Path) -> Path:
    """Diffusers names, scale baked into ``lokr_w1`` (or ``lokr_w1_a``): load with ``load_lora_adapter``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    for module, factors in adapter.modules.items():
        assert isinstance(factors, LokrFactors)
        for name, tensor in factors.tensors.items():
            baked = name in ("lokr_w1", "lokr_w1_a")
            state[f"transformer.{module}.{name}"] = tensor.float() * (factors.scale if baked else 1.0)
    save_tensors(out_dir / LOKR_DIFFUSERS_FILE, state, studio_metadata(adapter))
    return out_dir / LOKR_DIFFUSERS_FILE
