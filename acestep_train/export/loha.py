"""LoHA (LyCORIS's Hadamard-product adapter): its factors, reader and native writer.

A LoHA changes a linear weight by ``scale * (w1_a @ w1_b) ⊙ (w2_a @ w2_b)`` with
``scale = alpha / dim`` and ``dim = w1_b.shape[0]`` (LyCORIS ``LohaModule.get_weight``; ComfyUI's
``weight_adapter/loha.py`` divides ``.alpha`` by the same rank, and uses 1.0 without ``.alpha``).
We compute the delta ourselves: lycoris-lora 4.1.3's ``get_diff_weight`` (used by ``merge_to``)
multiplies by the scale a second time, as it does for LoKr.

Who loads what (read from their loaders, see FACTS.md):
- ComfyUI: natively, from ``loha_weights.safetensors`` written here: keys
  ``lycoris_layers_N_self_attn_q_proj.hada_w1_a`` ... on the decoder's original names plus an
  ``.alpha`` tensor per module (its ACEStep15 key map takes ``lycoris_<flat decoder path>``).
- ACE-Step 1.5's UI: its LyCORIS path builds ``algo="lokr"`` only (``_load_lokr_adapter``), so LoHA
  tensors would land nowhere, silently; the file here carries no ``lokr_config`` metadata and is not
  named ``lokr_weights.safetensors``, so ACE-Step refuses it instead. It gets the exact LoRA form.
- diffusers 0.42: ``load_lora_adapter`` knows LoRA and LoKr only; it gets the exact LoRA form
  (``loha_to_lora.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from acestep_train.export.adapter_state import Adapter
from acestep_train.export.names import diffusers_module
from acestep_train.export.readers import lycoris_groups
from acestep_train.export.writers import LOHA_FILE, write_lycoris
LOHA_PARTS = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")


@dataclass
class LohaFactors:
    """LyCORIS LoHA factors of one linear layer: ``hada_w1_a`` [out, r], ``hada_w1_b`` [r, in], same for w2."""

    tensors: dict[str, torch.Tensor]
    alpha: float

    @property
    def dim(self) -> int:
        return int(self.tensors["hada_w1_b"].shape[0])

    @property
    def scale(self) -> float:
        return self.alpha / self.dim

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of the weight it changes: ``delta().shape``, without building the delta."""
        return int(self.tensors["hada_w1_a"].shape[0]), int(self.tensors["hada_w1_b"].shape[1])

    def products(self) -> tuple[torch.Tensor, torch.Tensor]:
        t = {name: tensor.float() for name, tensor in self.tensors.items()}
        return t["hada_w1_a"] @ t["hada_w1_b"], t["hada_w2_a"] @ t["hada_w2_b"]

    def delta(self) -> torch.Tensor:
        first, second = self.products()
        return self.scale * first * second


def loha_from_state(state: dict[str, torch.Tensor], config: dict | None = None) -> Adapter:
    """LyCORIS LoHA tensors (``lycoris_<flat name>.hada_*`` + ``.alpha``) -> Adapter."""
    modules = {}
    for module, (tensors, alpha) in lycoris_groups(state, config, "LoHA").items():
        extra = sorted(set(tensors) - set(LOHA_PARTS))
        if extra:
            raise ValueError(f"{module}: LoHA parts {extra} are not supported (Tucker or DoRA LoHA is for conv layers)")
        missing = [part for part in LOHA_PARTS if part not in tensors]
        if missing:
            raise ValueError(f"{module}: LoHA module without {missing}")
        modules[diffusers_module(module)] = LohaFactors(tensors, alpha)
    return Adapter("loha", modules, lokr_config=dict(config or {}))


def write_loha_lycoris(adapter: Adapter, out_dir: Path) -> Path:
    """``loha_weights.safetensors`` on original names + ``loha_config`` (ComfyUI loads it natively)."""
    if adapter.kind != "loha":
        raise ValueError(f"write_loha_lycoris needs a LoHA adapter, got {adapter.kind}")
    return write_lycoris(adapter, out_dir, LOHA_FILE, "loha_config")
