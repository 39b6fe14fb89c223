"""A LoHA rewritten as an exact LoRA, for the consumers that cannot load LoHA (ACE-Step's UI, diffusers).

A LoHA delta is ``s * (A1 @ B1) ⊙ (A2 @ B2)`` with ``A1`` [out, r1], ``B1`` [r1, in] (and r2 for the
second pair). Entry by entry, ``(A1 B1)_ij (A2 B2)_ij = Σ_pq A1_ip A2_iq · B1_pj B2_qj``, so with the
row-wise Khatri–Rao product ``up_i,(p,q) = s · A1_ip A2_iq`` [out, r1·r2] and the column-wise one
``down_(p,q),j = B1_pj B2_qj`` [r1·r2, in], ``up @ down`` is the LoHA delta: a LoRA of rank r1·r2
(computed in float64, stored in float32; the exporter reads it back and checks it to 1e-5).

The rank grows as the square of the LoHA dim (dim 8 -> 64, dim 16 -> 256). Past ``max_rank`` the
conversion is refused with the rank it needs, as for LoKr (``lokr_to_lora.py``; the LoHA default is
256, every LoHA preset's dim 16 or less); ComfyUI loads the LoHA itself, at its own size.
"""

from __future__ import annotations

import torch

from acestep_train.export.adapter_state import Adapter, LoraFactors
from acestep_train.export.loha import LohaFactors
from acestep_train.export.lokr_to_lora import RankTooLargeError

#: dim 16 (rank 256) still writes a LoRA an eighth the size of a 2048 x 2048 weight
DEFAULT_MAX_RANK = 256

#: what each consumer does with a LoHA (the Export tab and the CLI say it with each export)
CONSUMER_NOTE = {
    "acestep": "ACE-Step's UI cannot load a LoHA (its LyCORIS loader builds LoKr only): written as the "
               "LoHA's exact LoRA form",
    "diffusers": "diffusers cannot load a LoHA (load_lora_adapter takes LoRA and LoKr only): written as the "
                 "LoHA's exact LoRA form",
    "comfyui": "ComfyUI loads the LoHA itself (its LoHa weight adapter)",
}


def khatri_rao_lora(factors: LohaFactors) -> LoraFactors:
    """The rank ``r1·r2`` LoRA whose delta is exactly ``factors.delta()`` (alpha = rank: scale 1)."""
    t = {name: tensor.double() for name, tensor in factors.tensors.items()}
    out_dim, in_dim = t["hada_w1_a"].shape[0], t["hada_w1_b"].shape[1]
    up = (t["hada_w1_a"][:, :, None] * t["hada_w2_a"][:, None, :]).reshape(out_dim, -1) * factors.scale
    down = (t["hada_w1_b"][:, None, :] * t["hada_w2_b"][None, :, :]).reshape(-1, in_dim)
    return LoraFactors(down=down.float(), up=up.float(), alpha=float(up.shape[1]))


def lora_rank(factors: LohaFactors) -> int:
    return int(factors.tensors["hada_w1_b"].shape[0] * factors.tensors["hada_w2_b"].shape[0])


def check_rank(adapter: Adapter, max_rank: int = DEFAULT_MAX_RANK) -> int:
    """The rank the exact LoRA form needs; raises ``RankTooLargeError`` past ``max_rank`` (before any writing)."""
    if adapter.kind != "loha" or not adapter.modules:
        raise ValueError(f"the exact LoRA form is written from a LoHA with modules; this is {adapter.description()}")
    ranks = {name: lora_rank(factors) for name, factors in adapter.modules.items()}
    widest = max(ranks, key=ranks.__getitem__)
    if ranks[widest] > max_rank:
        raise RankTooLargeError(
            f"LoHA module {widest} needs LoRA rank {ranks[widest]} (dim x dim) to be written exactly for ACE-Step's "
            f"UI or diffusers, which cannot load LoHA; the limit is {max_rank}. Raise it with --max-lora-rank "
            f"{ranks[widest]} on the command line, or export --format comfyui, which loads the LoHA itself")
    return ranks[widest]


def loha_as_lora(adapter: Adapter, max_rank: int = DEFAULT_MAX_RANK) -> Adapter:
    """The LoRA with exactly ``adapter``'s deltas; raises ``RankTooLargeError`` past ``max_rank``."""
    needed = check_rank(adapter, max_rank)
    modules = {name: khatri_rao_lora(factors) for name, factors in adapter.modules.items()}
    return Adapter("lora", modules, metadata={**adapter.metadata, "converted_from": "loha", "max_lora_rank": needed})
