"""8-bit frozen base weights: the DiT's layer linears as bitsandbytes ``Linear8bitLt``.

With ``loop.base_weights = "int8"`` every ``nn.Linear`` inside ``transformer.layers`` (attention
projections and MLP: 97 % of the DiT's parameters) is replaced, before the adapter attaches, by a
``Linear8bitLt`` holding its weight in int8 with one scale per output row (LLM.int8() row-wise
quantization; ``threshold`` 0: no fp16 outlier columns, so memory is exactly one byte per weight).
The module keeps its name, so the adapter targets, the saved adapter and every export are those of
a full-precision run; PEFT wraps the 8-bit layer with its own ``lora.bnb.Linear8bitLt``, LyCORIS
hooks it like any linear. Patchify, time embeddings, the condition projection and the output stay
at the run's precision. bitsandbytes 0.50 quantizes and multiplies on the CPU as well as on CUDA.
"""

from __future__ import annotations

import torch

#: bitsandbytes' outlier threshold; 0 keeps every column in int8 (the memory the planner counts).
THRESHOLD = 0.0


def layer_linears(transformer: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.nn.Linear]]:
    """(parent, attribute, linear) for every plain ``nn.Linear`` inside the DiT's layers."""
    found = []
    for name, parent in transformer.named_modules():
        if not name.startswith("layers."):
            continue
        for attribute, child in parent.named_children():
            if type(child) is torch.nn.Linear:
                found.append((parent, attribute, child))
    return found


def quantize_base(transformer: torch.nn.Module, device: torch.device | str) -> int:
    """Replace the layers' linears by int8 ones on ``device`` (where bitsandbytes quantizes); returns how many."""
    import bitsandbytes as bnb

    linears = layer_linears(transformer)
    if not linears:
        raise ValueError("int8 base weights: the model has no linear layers inside transformer.layers")
    for parent, attribute, linear in linears:
        quantized = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, bias=linear.bias is not None,
                                        has_fp16_weights=False, threshold=THRESHOLD, device="cpu")
        quantized.load_state_dict(linear.state_dict())
        quantized = quantized.to(device)  # the move quantizes: Int8Params + per-row scales (SCB)
        quantized.requires_grad_(False)
        setattr(parent, attribute, quantized)
    return len(linears)


def real_weight(module: torch.nn.Module) -> torch.Tensor:
    """The float weight a linear stands for: an int8 one's codes times its row scales (kept on the weight until
    the first forward, then in the module's state), any other's weight as it is."""
    weight = module.weight
    if weight.dtype != torch.int8:
        return weight
    from bitsandbytes.functional import int8_vectorwise_dequant

    scales = weight.SCB if weight.SCB is not None else module.state.SCB
    return int8_vectorwise_dequant(weight, scales)


def int8_bytes(transformer: torch.nn.Module) -> int:
    """Bytes the int8 linears hold (weights and row scales), to check the planner's arithmetic."""
    import bitsandbytes as bnb

    total = 0
    for module in transformer.modules():
        if isinstance(module, bnb.nn.Linear8bitLt):
            total += module.weight.numel() * module.weight.element_size()
            total += module.weight.SCB.numel() * module.weight.SCB.element_size()
    return total
