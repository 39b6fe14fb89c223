"""How a run uses floating point, decided once from the config and the device.

Three different things, named apart:
  * ``fabric``: the Lightning precision string (``bf16-mixed``, ``16-mixed``, ``32-true``); with the
    mixed ones Fabric runs the forward under autocast, so matmuls compute in bf16/fp16.
  * ``weights``: the dtype the frozen base DiT is stored in (bf16/fp16 on a GPU: half the memory).
  * ``inputs``: the dtype batches are handed to the model in. Always fp32: autocast casts them at each
    matmul, and the loss is computed in fp32. The adapter's own parameters are fp32 as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Precision:
    fabric: str
    weights: torch.dtype
    inputs: torch.dtype = torch.float32

    @property
    def planner_name(self) -> str:
        """The weight precision in the VRAM planner's terms."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.weights, "fp32")


def fabric_precision(requested: str | None, accelerator: str) -> str:
    if requested:
        return requested
    if accelerator in ("cuda", "gpu", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def resolve_precision(requested: str | None, accelerator: str) -> Precision:
    name = fabric_precision(requested, accelerator)
    if name.startswith("bf16"):
        weights = torch.bfloat16
    elif name.startswith("16"):
        weights = torch.float16
    else:
        weights = torch.float32
    return Precision(name, weights)
