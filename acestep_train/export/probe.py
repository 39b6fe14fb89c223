"""Measure the weight a linear layer really applies, whatever wraps it (PEFT, LyCORIS, merged).

For a linear map ``y = x W^T + b``: feeding the identity matrix gives ``W^T + b`` and a zero
row gives ``b``, so ``W = (f(I) - f(0))^T``. This needs no knowledge of the wrapper, which
makes it the oracle for "the adapter a consumer loaded applies the delta we trained".
"""

from __future__ import annotations

import torch


@torch.no_grad()
def effective_weight(module: torch.nn.Module, in_features: int) -> torch.Tensor:
    param = next(module.parameters())
    eye = torch.eye(in_features, device=param.device, dtype=param.dtype)
    zero = torch.zeros(1, in_features, device=param.device, dtype=param.dtype)
    return (module(eye) - module(zero)).T.float().cpu()


def effective_deltas(model: torch.nn.Module, base_weights: dict[str, torch.Tensor],
                     module_names: list[str]) -> dict[str, torch.Tensor]:
    """``{name: W_effective - W_base}`` for each named linear of ``model``."""
    modules = dict(model.named_modules())
    deltas = {}
    for name in module_names:
        base = base_weights[name].float().cpu()
        deltas[name] = effective_weight(modules[name], base.shape[1]) - base
    return deltas
