"""A training step's peak GPU memory, measured on the meta device (``memory_probe``) plus arithmetic.

Peak = frozen weights + adapter (fp32 weights, fp32 gradients, optimizer state; its fp32 moving
average when the EMA is held on the GPU) + the batch + what the forward keeps for backward (measured) + the backward working set + CUDA context and
allocator slack. The backward working set is one layer's activation gradients, taken as large as
what that layer saved (without checkpointing), or a recomputed layer's saves plus their gradients
(with checkpointing). Context and slack are the planner's constants (``vram.CUDA_OVERHEAD_GB``,
``vram.ALLOCATOR_SLACK``) until a GPU run measures them. ``model`` picks the 2 B DiT or the XL.
With ``base_weights="int8"`` the frozen linears of the layers count one byte per weight plus an fp32
scale per output row (bitsandbytes ``Linear8bitLt``; it cannot be built on the meta device); what the
forward saves is the bf16 run's, an assumption the GPU suite's int8 section measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from acestep_train.vram import ALLOCATOR_SLACK, CUDA_OVERHEAD_GB, EMA_BYTES, GB, OPTIMIZER_STATE_BYTES

ENCODER_TOKENS = 600


@dataclass(frozen=True)
class StepShape:
    batch: int
    crop_frames: int
    checkpointing: bool
    optimizer: str = "adamw"
    encoder_tokens: int = ENCODER_TOKENS
    ema_on_gpu: bool = False  # the adapter's fp32 moving average held on the GPU
    base_weights: str = "full"  # full | int8


def full_config(model: str = "2b") -> dict:
    """The DiT kwargs of the full-size ``2b`` or ``xl`` model."""
    from diffusers import AceStepTransformer1DModel

    from acestep_train.models import keymap
    from acestep_train.models.full_config import FULL_CONFIGS

    return keymap.config_for(AceStepTransformer1DModel, FULL_CONFIGS[model])


def frozen_bytes(transformer, base_weights: str) -> int:
    """The frozen weights: at their dtype, or the layers' linears in int8 with an fp32 scale per output row."""
    int8 = set()
    if base_weights == "int8":
        int8 = {id(m.weight) for name, m in transformer.named_modules()
                if isinstance(m, torch.nn.Linear) and name.startswith("layers.") and not m.weight.requires_grad}
    total = 0
    for param in transformer.parameters():
        if param.requires_grad:
            continue
        total += param.numel() + 4 * param.shape[0] if id(param) in int8 else param.numel() * param.element_size()
    return total


def build_meta(model_config: dict, adapter_config, checkpointing: bool):
    """The DiT in bf16 on the meta device with the adapter attached (fp32), in training mode."""
    from diffusers import AceStepTransformer1DModel

    from acestep_train.train.adapters import Adapter

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("meta"):
            transformer = AceStepTransformer1DModel(**model_config)
            adapter = Adapter(transformer, adapter_config)
    finally:
        torch.set_default_dtype(previous)
    if checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.train()
    return transformer, adapter


def simulate(adapter_config, step: StepShape, model_config: dict | None = None) -> dict[str, float]:
    """Peak memory of one step, by component, in GB (``measured_*`` parts come from the probe)."""
    from acestep_train.train.memory_probe import frozen_and_adapter_keys, probe_inputs, saved_bytes

    model_config = model_config or full_config()
    transformer, adapter = build_meta(model_config, adapter_config, step.checkpointing)
    inputs = probe_inputs(model_config, step.batch, step.crop_frames // 2 * 2, step.encoder_tokens)
    saved = saved_bytes(transformer, inputs, frozen_and_adapter_keys(transformer, adapter))
    trainable = sum(p.numel() for p in adapter.params)
    frozen = frozen_bytes(transformer, step.base_weights)
    working = 2 * saved.largest_recompute() if step.checkpointing else saved.largest_layer()
    parts = {
        "weights": frozen,
        "adapter": trainable * (4 + 4 + OPTIMIZER_STATE_BYTES[step.optimizer]),
        "inputs": sum(t.numel() * t.element_size() for t in inputs.values()),
        "saved_activations": saved.held(),
        "backward_working_set": working,
    }
    if step.ema_on_gpu:
        parts["ema"] = sum(p.numel() * EMA_BYTES for p in adapter.params)
    breakdown = {name: value / GB for name, value in parts.items()}
    breakdown["overhead"] = CUDA_OVERHEAD_GB + (ALLOCATOR_SLACK - 1) * sum(breakdown.values())
    breakdown["total"] = sum(breakdown.values())
    breakdown["adapter_params"] = trainable
    return {name: round(value, 3) for name, value in breakdown.items()}
