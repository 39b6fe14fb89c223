"""A LoKr adapter rewritten as an exact LoRA, so every consumer's usual LoRA call loads it.

A LoKr delta is ``s * kron(W1, W2)``. With the SVDs ``W1 = U1 S1 V1^T`` (rank r1) and
``W2 = U2 S2 V2^T`` (rank r2), the mixed-product rule gives

    kron(W1, W2) = kron(U1 S1^½, U2 S2^½) @ kron(S1^½ V1^T, S2^½ V2^T)

so ``up = s * kron(U1 S1^½, U2 S2^½)`` [out, r1·r2] and ``down = kron(S1^½ V1^T, S2^½ V2^T)``
[r1·r2, in] is a LoRA of rank r1·r2 = rank(kron(W1, W2)) whose delta equals the LoKr's to
float round-off. Each SVD is truncated at its numerical rank (singular values above
``max(shape) * eps(float32) * s_max``, torch's ``matrix_rank`` rule), computed in float64.

A full-matrix LoKr side (``decompose_both`` off, or a small w1) often has full rank, and the
product can reach the layer's full size: such a "LoRA" is no smaller than the weight. Past
``max_rank`` the conversion is refused with the rank it would need. Ranks may differ per
module (written as ``rank_pattern``; diffusers mirrors per-module ranks into alphas when the
file has none, so every module loads at scale 1). A zero delta is written as rank 1 of zeros.
"""

from __future__ import annotations

import torch

from acestep_train.export.adapter_state import Adapter, LokrFactors, LoraFactors

DEFAULT_MAX_RANK = 128


class RankTooLargeError(ValueError):
    """The exact LoRA form of this LoKr would need more than the allowed rank."""


def _factors(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(left, right)`` with ``left @ right == matrix``, truncated at the numerical rank."""
    u, s, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    cutoff = (s.max() if s.numel() else 0.0) * max(matrix.shape) * torch.finfo(torch.float32).eps
    keep = int((s > cutoff).sum())
    root = s[:keep].sqrt()
    return u[:, :keep] * root, root[:, None] * vh[:keep]


def _sides(factors: LokrFactors) -> tuple[torch.Tensor, torch.Tensor]:
    return factors._side("w1"), factors._side("w2")


def exact_rank(factors: LokrFactors) -> tuple[int, int, int]:
    """(rank of the delta, rank of w1, rank of w2)."""
    w1, w2 = _sides(factors)
    r1, r2 = _factors(w1)[0].shape[1], _factors(w2)[0].shape[1]
    return r1 * r2, r1, r2


def _lora_of(factors: LokrFactors) -> LoraFactors:
    w1, w2 = _sides(factors)
    left1, right1 = _factors(w1)
    left2, right2 = _factors(w2)
    up = factors.scale * torch.kron(left1, left2)
    down = torch.kron(right1, right2)
    rank = max(up.shape[1], 1)
    pad = rank - up.shape[1]
    up = torch.cat([up, up.new_zeros(up.shape[0], pad)], dim=1)
    down = torch.cat([down, down.new_zeros(pad, down.shape[1])], dim=0)
    return LoraFactors(down=down.float(), up=up.float(), alpha=float(rank))


def lokr_as_lora(adapter: Adapter, max_rank: int = DEFAULT_MAX_RANK) -> Adapter:
    """The LoRA with exactly ``adapter``'s deltas; raises ``RankTooLargeError`` past ``max_rank``."""
    if adapter.kind != "lokr":
        raise ValueError(f"--lokr-as-lora converts a LoKr adapter; this one is {adapter.kind}")
    if not adapter.modules:
        raise ValueError("the adapter has no modules: nothing to convert")
    ranks = {module: exact_rank(factors) for module, factors in adapter.modules.items()}
    module, (needed, r1, r2) = max(ranks.items(), key=lambda item: item[1][0])
    if needed > max_rank:
        raise RankTooLargeError(
            f"LoKr module {module} needs LoRA rank {needed} (rank(w1)={r1} x rank(w2)={r2}) to be written "
            f"exactly; the limit is {max_rank}. Raise it with --max-lora-rank {needed}, or export "
            "--format diffusers without --lokr-as-lora and load with pipe.transformer.load_lora_adapter")
    modules = {name: _lora_of(factors) for name, factors in adapter.modules.items()}
    metadata = {**adapter.metadata, "converted_from": "lokr", "max_lora_rank": max(needed, 1)}
    return Adapter("lora", modules, metadata=metadata)
