"""Consumers of exported adapters that are not importable here, rebuilt from their documented rules.

- ``original_decoder``: a module tree with ACE-Step's original decoder names
  (``layers.N.self_attn.q_proj`` ...), holding the tiny DiT's base weights, for the real
  ``PeftModel.from_pretrained`` / ``create_lycoris`` to load into (ACE-Step's UI does the same
  on its decoder).
- ``comfyui_lora_deltas``: ComfyUI's LoRA loading as its code reads (``comfy/lora.py``
  ``model_lora_keys_unet`` for ``ACEStep15`` + ``load_lora``): a key map from adapter names
  (``lora_unet_decoder_layers_N_...``, ``diffusion_model.decoder.layers.N...``,
  ``base_model.model.layers.N...``, ``lycoris_layers_N_...``) to model weights, each name
  tried with the up/down suffix pairs (lora_up/lora_down, lora_B/lora_A, ...); scale =
  ``.alpha`` / rank, 1.0 without ``.alpha``; LoKr parts under the same names with scale
  alpha/dim (1 when no factor is decomposed); LoHA parts (``hada_w1_a`` ...) as
  ``weight_adapter/loha.py`` reads them: ``.alpha`` / ``hada_w1_b`` rows, 1.0 without ``.alpha``,
  times ``(w1_a @ w1_b) * (w2_a @ w2_b)``; a ``.dora_scale`` beside a LoRA pair makes it a DoRA
  (``weight_decompose``: output-axis scale over the base weight's row norms). Keys left over are
  "not loaded", which the tests treat as failure.
- ``acestep_route``: which loader ACE-Step 1.5's ``add_lora`` (``handler/lora/lifecycle.py``) sends a
  path to: ``"lokr"`` (``lokr_weights.safetensors``, or any ``.safetensors`` whose metadata has
  ``lokr_config``: ``create_lycoris(..., algo="lokr")``), ``"peft"`` (a folder with
  ``adapter_config.json`` naming ``peft_type``: ``PeftModel.from_pretrained``), else ``None`` (refused).

Plus the helpers the export tests share: ``random_lora``, ``linear_weights``, ``largest_gap``, ``comfy_names``,
``tiny_dit_inputs`` and ``tab_export`` (the Export tab run on one adapter folder).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from acestep_train.export.names import original_module

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


def comfy_names(tensors: dict) -> dict:
    """{diffusers module name: x} -> {ComfyUI model weight key (``diffusion_model.decoder.<original>.weight``): x}."""
    return {f"diffusion_model.decoder.{original_module(name)}.weight": value for name, value in tensors.items()}


def comfyui_model_keys(base_weights: dict[str, torch.Tensor]) -> set[str]:
    return set(comfy_names(base_weights))


# ComfyUI's load_lora: (up, down) name pairs tried for each key-map entry, and the LoKr parts.
LORA_PAIRS = ((".lora_up.weight", ".lora_down.weight"), ("_lora.up.weight", "_lora.down.weight"),
              (".lora_B.weight", ".lora_A.weight"), (".lora.up.weight", ".lora.down.weight"),
              (".lora_B", ".lora_A"))
LOKR_PARTS = ("lokr_w1", "lokr_w2", "lokr_w1_a", "lokr_w1_b", "lokr_w2_a", "lokr_w2_b", "lokr_t2")
LOHA_PARTS = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")  # (+ hada_t1/t2: conv layers only)


def comfyui_key_map(model_keys: set[str]) -> dict[str, str]:
    """ComfyUI's ``model_lora_keys_unet`` for an ACEStep15 model: adapter name -> model weight key.

    The generic rules (every ``diffusion_model.*`` weight: ``lora_unet_<flat>`` and the key without
    ``.weight``) plus the ACEStep15 branch (``base_model.model.<decoder path>``,
    ``lycoris_<flat decoder path>``)."""
    key_map = {}
    for key in model_keys:
        body = key[len("diffusion_model."):-len(".weight")]  # decoder.layers.0.self_attn.q_proj
        key_map["lora_unet_" + body.replace(".", "_")] = key
        key_map[key[:-len(".weight")]] = key
        inner = body[len("decoder."):]
        key_map["base_model.model." + inner] = key
        key_map["lycoris_" + inner.replace(".", "_")] = key
    return key_map


def comfyui_lora_deltas(state: dict[str, torch.Tensor], model_keys: set[str],
                        base: dict[str, torch.Tensor] | None = None, strength: float = 1.0) -> dict[str, torch.Tensor]:
    """{model key: W_patched - W} as ComfyUI's ``load_lora`` + ``calculate_weight`` build them at ``strength``;
    raises on a key it would not load. ``base`` (model key -> weight) is needed only by a DoRA (``dora_scale``)."""
    loaded, deltas = set(), {}
    for name, target in comfyui_key_map(model_keys).items():
        alpha_key, dora_key = f"{name}.alpha", f"{name}.dora_scale"
        alpha = float(state[alpha_key]) if alpha_key in state else None
        dora_scale = state.get(dora_key)
        loaded |= {key for key in (alpha_key, dora_key) if key in state}
        for up, down in LORA_PAIRS:
            if f"{name}{up}" in state:
                loaded |= {f"{name}{up}", f"{name}{down}"}
                rank = state[f"{name}{down}"].shape[0]
                scale = alpha / rank if alpha is not None else 1.0
                diff = state[f"{name}{up}"].float() @ state[f"{name}{down}"].float()
                if dora_scale is None:
                    deltas[target] = strength * scale * diff
                else:
                    deltas[target] = _weight_decompose(dora_scale, base[target].float(), diff, scale, strength)
                break
        parts = {part: state[f"{name}.{part}"] for part in LOKR_PARTS if f"{name}.{part}" in state}
        if parts:
            loaded |= {f"{name}.{part}" for part in parts}
            deltas[target] = strength * _lokr_delta(parts, alpha)
        if f"{name}.hada_w1_a" in state:  # ComfyUI then reads all four (a KeyError there if one is missing)
            hada = {part: state[f"{name}.{part}"].float() for part in LOHA_PARTS}
            loaded |= {f"{name}.{part}" for part in LOHA_PARTS}
            scale = alpha / hada["hada_w1_b"].shape[0] if alpha is not None else 1.0
            deltas[target] = strength * scale * (hada["hada_w1_a"] @ hada["hada_w1_b"]) * (
                hada["hada_w2_a"] @ hada["hada_w2_b"])
    not_loaded = sorted(set(state) - loaded)
    if not_loaded:
        raise AssertionError(f"lora key not loaded: {not_loaded[:3]}")
    return deltas


def _weight_decompose(dora_scale: torch.Tensor, weight: torch.Tensor, diff: torch.Tensor, scale: float,
                      strength: float) -> torch.Tensor:
    """ComfyUI's ``weight_decompose`` (comfy/weight_adapter/base.py), as a delta on ``weight`` (fp32 here).

    ``V = W + scale * diff``. A ``dora_scale`` whose first dimension is the output size is the output-axis
    form, and is divided by the row norms of the BASE weight ``W``; any other (LyCORIS's [1, in]) by the
    column norms of ``V``. eps of the weight's dtype is added to the norm; at strength s != 1 the result is
    ``W + s (V' - W)``."""
    calc = weight + scale * diff
    if dora_scale.shape[0] == calc.shape[0]:
        norm = torch.linalg.norm(weight, dim=1, keepdim=True)
    else:
        norm = torch.linalg.norm(calc, dim=0, keepdim=True)
    calc = calc * (dora_scale.float() / (norm + torch.finfo(weight.dtype).eps))
    return strength * (calc - weight)


def _lokr_delta(parts: dict[str, torch.Tensor], alpha: float | None) -> torch.Tensor:
    def side(name):
        if f"lokr_{name}" in parts:
            return parts[f"lokr_{name}"].float()
        return parts[f"lokr_{name}_a"].float() @ parts[f"lokr_{name}_b"].float()

    dim = None
    if "lokr_w2_b" in parts:
        dim = parts["lokr_w2_b"].shape[0]
    elif "lokr_w1_b" in parts:
        dim = parts["lokr_w1_b"].shape[0]
    scale = alpha / dim if (alpha is not None and dim) else 1.0
    return scale * torch.kron(side("w1"), side("w2"))


def _is_lokr_file(path: Path) -> bool:
    from safetensors import safe_open

    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return False
    if path.name == "lokr_weights.safetensors":
        return True
    with safe_open(str(path), "pt") as handle:
        raw = (handle.metadata() or {}).get("lokr_config")
    return isinstance(raw, str) and bool(raw.strip())


def acestep_route(path: Path) -> str | None:
    """ACE-Step 1.5's ``add_lora`` routing for ``path``: "lokr", "peft", or None (it refuses the path)."""
    if path.is_file():
        return "lokr" if _is_lokr_file(path) else None
    if (path / "lokr_weights.safetensors").exists() or any(_is_lokr_file(p) for p in path.iterdir()):
        return "lokr"
    config = path / "adapter_config.json"
    if not config.is_file():
        return None
    return "peft" if "peft_type" in json.loads(config.read_text()) else None


def random_lora(transformer: torch.nn.Module, config, seed: int, std: float = 0.2):
    """PEFT's LoRA ``config`` on ``transformer`` with random non-zero weights, read as an ``Adapter``;
    with ``use_dora`` a DoRA whose magnitudes are also moved off their start (the base rows' norms)."""
    from peft.utils import get_peft_model_state_dict

    from acestep_train.export.dora import dora_from_state
    from acestep_train.export.readers import lora_from_state

    transformer.add_adapter(config)
    torch.manual_seed(seed)
    for name, param in transformer.named_parameters():
        if "lora_magnitude_vector" in name:
            param.data.mul_(1 + 0.3 * torch.randn_like(param))
        elif "lora_" in name:
            param.data.normal_(std=std)
    read = dora_from_state if config.use_dora else lora_from_state
    return read(get_peft_model_state_dict(transformer), config.to_dict())


def linear_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every ``nn.Linear`` weight, by module name."""
    return {n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def largest_gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """max |a - b| over the tensors of two dicts with the same keys."""
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def tiny_dit_inputs(frames: int = 8, tokens: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """One forward's inputs for the tiny DiT (latents 8, hidden 32, context 16)."""
    gen = torch.Generator().manual_seed(seed)
    return {"hidden_states": torch.randn(1, frames, 8, generator=gen), "timestep": torch.tensor([0.5]),
            "timestep_r": torch.tensor([0.5]), "encoder_hidden_states": torch.randn(1, tokens, 32, generator=gen),
            "context_latents": torch.randn(1, frames, 16, generator=gen)}


def tab_export(tmp_path: Path, checkpoint_root: Path, roots: list[Path], write: Callable[[Path], object]) -> str:
    """The Export tab on the adapter ``write(folder)`` puts in ``<tmp_path>/data/run/final``: every format into
    ``<tmp_path>/data/export``, checked against tiny-turbo under ``checkpoint_root``; returns what the tab says."""
    from app.context import AppContext
    from app.forms import ExportForm
    from app.settings import make_settings
    from app.tabs import export

    ctx = AppContext(make_settings("127.0.0.1", 7861, False, None, [str(r) for r in roots], False),
                     checkpoint_root, tmp_path / "state")
    write(tmp_path / "data" / "run" / "final")
    form = ExportForm.of(dict(checkpoint=str(tmp_path / "data" / "run" / "final"),
                              formats=["acestep", "comfyui", "diffusers"], output=str(tmp_path / "data" / "export"),
                              trigger="", lokr_as_lora=False, model="tiny-turbo", strength=1.0, merged=""))
    return export.export(ctx, form)
