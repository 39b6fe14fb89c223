"""Read adapters from the layouts trainers write, into ``Adapter`` (diffusers module names).

LoRA: PEFT / diffusers / ComfyUI-style state dicts. Prefixes ``transformer.``,
``base_model.model.``, ``diffusion_model.decoder.``, ``decoder.``; suffixes
``lora_A``/``lora_B`` or ``lora_down``/``lora_up``; original (``q_proj``) or diffusers
(``to_q``) names. Alpha comes from a ``.alpha`` tensor, else the PEFT config
(``lora_alpha`` with ``alpha_pattern`` / ``rank_pattern``), else alpha = rank.
LoKr: LyCORIS state dicts (``lycoris_<flat name>.lokr_*`` + ``.alpha``) on either naming.
"""

from __future__ import annotations

import re

import torch

from acestep_train.export.adapter_state import Adapter, LokrFactors, LoraFactors
from acestep_train.export.names import diffusers_module, lycoris_name

PREFIXES = ("transformer.", "base_model.model.", "diffusion_model.decoder.", "decoder.")
LORA_SUFFIXES = {"lora_A.weight": "down", "lora_down.weight": "down", "lora_B.weight": "up", "lora_up.weight": "up"}
ATTENTION_LEAVES = ("to_q", "to_k", "to_v", "to_out.0", "q_proj", "k_proj", "v_proj", "o_proj")
MLP_LEAVES = ("gate_proj", "up_proj", "down_proj")


def _strip_prefix(key: str) -> str:
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def module_name(stem: str) -> str:
    """A key without its tensor suffix (any prefix, original or diffusers names) -> diffusers module name."""
    return diffusers_module(_strip_prefix(stem).replace(".default", ""))


def _pattern_value(patterns: dict, module: str, default):
    """PEFT's rule: a pattern matches the end of the module path (``(.*\\.)?pattern$``)."""
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def lora_from_state(state: dict[str, torch.Tensor], config: dict | None = None) -> Adapter:
    """Group LoRA tensors by module and attach each module's alpha."""
    config = config or {}
    parts: dict[str, dict] = {}
    for key, tensor in state.items():
        body = _strip_prefix(key)
        for suffix, role in {**LORA_SUFFIXES, "alpha": "alpha"}.items():
            if body.endswith("." + suffix):
                module = body[: -len(suffix) - 1].replace(".default", "")
                parts.setdefault(module, {})[role] = tensor
                break
        else:
            raise ValueError(f"{key}: not a LoRA key (expected lora_A/lora_B/lora_down/lora_up/alpha)")
    modules = {}
    for module, tensors in parts.items():
        if "down" not in tensors or "up" not in tensors:
            raise ValueError(f"{module}: LoRA module without both down and up weights")
        rank = int(tensors["down"].shape[0])
        if "alpha" in tensors:
            alpha = float(tensors["alpha"])
        else:
            default_alpha = config.get("lora_alpha", rank) if config else rank
            alpha = float(_pattern_value(config.get("alpha_pattern") or {}, module, default_alpha))
        modules[diffusers_module(module)] = LoraFactors(tensors["down"], tensors["up"], alpha)
    return Adapter("lora", modules)


def candidate_modules(num_layers: int, mlp: bool = True) -> list[str]:
    """Every linear of the DiT blocks an adapter may target, in both namings."""
    leaves = ATTENTION_LEAVES + (MLP_LEAVES if mlp else ())
    names = []
    for layer in range(num_layers):
        for leaf in leaves:
            block = "mlp" if leaf in MLP_LEAVES else None
            for attention in (("mlp",) if block else ("self_attn", "cross_attn")):
                names.append(f"layers.{layer}.{attention}.{leaf}")
    return names


def lycoris_groups(state: dict[str, torch.Tensor], config: dict | None, kind: str) -> dict[str, tuple[dict, float]]:
    """LyCORIS tensors (``lycoris_<flat name>.<part>``) -> {module name: (parts, alpha)}.

    Flat names are resolved against the DiT's block linears; alpha is the ``.alpha`` tensor, else the
    config's ``linear_alpha``, else 1."""
    layers = [int(m) for m in re.findall(r"lycoris_layers_(\d+)_", " ".join(state))]
    flat_to_module = {lycoris_name(name): name for name in candidate_modules(max(layers, default=-1) + 1)}
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        flat, _, leaf = key.partition(".")
        if flat not in flat_to_module:
            raise ValueError(f"{key}: not a {kind} key of an ACE-Step DiT block linear")
        grouped.setdefault(flat_to_module[flat], {})[leaf] = tensor
    default_alpha = float((config or {}).get("linear_alpha", 1.0))
    return {module: (tensors, float(tensors.pop("alpha")) if "alpha" in tensors else default_alpha)
            for module, tensors in grouped.items()}


def lokr_from_state(state: dict[str, torch.Tensor], config: dict | None = None) -> Adapter:
    """LyCORIS LoKr tensors -> Adapter; flat names are resolved against the DiT's block linears."""
    modules = {}
    for module, (tensors, alpha) in lycoris_groups(state, config, "LoKr").items():
        if not any(k.startswith("lokr_w1") for k in tensors) or not any(k.startswith("lokr_w2") for k in tensors):
            raise ValueError(f"{module}: LoKr module without both w1 and w2 factors")
        modules[diffusers_module(module)] = LokrFactors(tensors, alpha)
    return Adapter("lokr", modules, lokr_config=dict(config or {}))


def lokr_from_peft_state(state: dict[str, torch.Tensor]) -> Adapter:
    """PEFT/diffusers-style LoKr (``transformer.<module>.lokr_w1``) with the scale baked in."""
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        module, _, leaf = _strip_prefix(key).rpartition(".")
        if not leaf.startswith("lokr_"):
            raise ValueError(f"{key}: not a LoKr key")
        grouped.setdefault(diffusers_module(module), {})[leaf] = tensor
    modules = {}
    for module, tensors in grouped.items():
        factors = LokrFactors(tensors, alpha=1.0)
        factors.alpha = float(factors.dim or 1)  # baked: runtime scale 1
        modules[module] = factors
    return Adapter("lokr", modules)
