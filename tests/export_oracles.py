"""Consumers of exported adapters that are not importable here, rebuilt from their documented rules.

- ``original_decoder``: a module tree with ACE-Step's original decoder names
  (``layers.N.self_attn.q_proj`` ...), holding the tiny DiT's base weights, for the real
  ``PeftModel.from_pretrained`` / ``create_lycoris`` to load into (ACE-Step's UI does the same
  on its decoder).
- ``comfyui_lora_deltas``: ComfyUI's LoRA key mapping (FACTS.md): accepted prefixes
  ``diffusion_model.decoder.``, ``lora_unet_decoder_``, ``base_model.model.``; suffixes
  lora_A/lora_B or lora_down/lora_up; scale = ``.alpha`` / rank, 1.0 without ``.alpha``;
  LoKr under ``lycoris_<flat>`` with scale alpha/dim (1 when no factor is decomposed).
  Keys that map to no model weight are "not loaded", which the tests treat as failure.
"""

from __future__ import annotations

import re

import torch

from acestep_train.export.names import original_module

LORA_PREFIXES = ("diffusion_model.decoder.", "lora_unet_decoder_", "base_model.model.")


class Leaf(torch.nn.Module):
    pass


def original_decoder(base_weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """An ``nn.Module`` tree at the original names with the given (diffusers-named) linears."""
    root = torch.nn.Module()
    for name, weight in base_weights.items():
        parent = root
        parts = original_module(name).split(".")
        for part in parts[:-1]:
            if not hasattr(parent, part):
                parent.add_module(part, Leaf())
            parent = getattr(parent, part)
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        linear.weight.data.copy_(weight)
        parent.add_module(parts[-1], linear)
    return root


def comfyui_model_keys(base_weights: dict[str, torch.Tensor]) -> set[str]:
    return {f"diffusion_model.decoder.{original_module(name)}.weight" for name in base_weights}


LORA_SUFFIX = re.compile(r"^(.*)\.(lora_A\.weight|lora_B\.weight|lora_down\.weight|lora_up\.weight|alpha)$")
ROLE = {"lora_A.weight": "down", "lora_down.weight": "down", "lora_B.weight": "up", "lora_up.weight": "up",
        "alpha": "alpha"}


def _split(key: str) -> tuple[str, str]:
    """(module, part) of one adapter key, as ComfyUI's key map reads it."""
    if key.startswith("lycoris_"):
        module, _, part = key.partition(".")
        return module, part
    for prefix in LORA_PREFIXES:
        if key.startswith(prefix):
            match = LORA_SUFFIX.match(key[len(prefix):])
            if match:
                return match.group(1), ROLE[match.group(2)]
    raise AssertionError(f"lora key not loaded: {key}")


def comfyui_lora_deltas(state: dict[str, torch.Tensor], model_keys: set[str]) -> dict[str, torch.Tensor]:
    """{model key: delta} as ComfyUI applies them; raises on a key it would not load."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        module, part = _split(key)
        groups.setdefault(module, {})[part] = tensor
    flat = {"lycoris_" + k[len("diffusion_model.decoder."):-len(".weight")].replace(".", "_"): k for k in model_keys}
    deltas = {}
    for module, parts in groups.items():
        if module.startswith("lycoris_"):
            if module not in flat:
                raise AssertionError(f"lora key not loaded: {module}")
            deltas[flat[module]] = _lokr_delta(parts)
            continue
        model_key = f"diffusion_model.decoder.{module}.weight"
        if model_key not in model_keys:
            raise AssertionError(f"lora key not loaded: {module}")
        scale = float(parts["alpha"]) / parts["down"].shape[0] if "alpha" in parts else 1.0
        deltas[model_key] = scale * parts["up"].float() @ parts["down"].float()
    return deltas


def _lokr_delta(parts: dict[str, torch.Tensor]) -> torch.Tensor:
    def side(name):
        if f"lokr_{name}" in parts:
            return parts[f"lokr_{name}"].float()
        return parts[f"lokr_{name}_a"].float() @ parts[f"lokr_{name}_b"].float()

    dim = None
    if "lokr_w2_b" in parts:
        dim = parts["lokr_w2_b"].shape[0]
    elif "lokr_w1_b" in parts:
        dim = parts["lokr_w1_b"].shape[0]
    scale = float(parts["alpha"]) / dim if ("alpha" in parts and dim) else 1.0
    return scale * torch.kron(side("w1"), side("w2"))
