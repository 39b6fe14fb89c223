"""Module names of adapted layers in the three naming schemes users meet.

diffusers (what we train on):  layers.3.self_attn.to_q     layers.3.cross_attn.to_out.0   layers.3.mlp.gate_proj
original ACE-Step decoder:     layers.3.self_attn.q_proj   layers.3.cross_attn.o_proj     layers.3.mlp.gate_proj
LyCORIS flat name:             lycoris_layers_3_self_attn_q_proj  (on the original names, as ACE-Step's UI loads it)

The DiT's weights in an original checkpoint live under ``decoder.``; ComfyUI prefixes them
with ``diffusion_model.``.
"""

from __future__ import annotations

_TO_ORIGINAL = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out.0": "o_proj"}
_TO_DIFFUSERS = {value: key for key, value in _TO_ORIGINAL.items()}


def original_module(diffusers_name: str) -> str:
    """``layers.3.self_attn.to_out.0`` -> ``layers.3.self_attn.o_proj`` (MLP names are shared)."""
    for old, new in _TO_ORIGINAL.items():
        if diffusers_name.endswith("." + old):
            return diffusers_name[: -len(old)] + new
    return diffusers_name


def diffusers_module(original_name: str) -> str:
    """Inverse of ``original_module``."""
    for old, new in _TO_DIFFUSERS.items():
        if original_name.endswith("." + old):
            return original_name[: -len(old)] + new
    return original_name


def lycoris_name(module_name: str) -> str:
    """LyCORIS's flat name for a module path: dots become underscores under ``lycoris_``."""
    return "lycoris_" + module_name.replace(".", "_")


def checkpoint_weight_key(diffusers_name: str) -> str:
    """The key of a module's weight in the original ``model.safetensors``."""
    return f"decoder.{original_module(diffusers_name)}.weight"
