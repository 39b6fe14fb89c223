"""A training step's peak GPU memory, measured on the meta device (``memory_probe``) plus arithmetic.

Peak = frozen weights + adapter (fp32 weights, fp32 gradients, optimizer state; its fp32 moving
average when the EMA is held on the GPU) + the batch + what the forward keeps for backward (measured) + the backward working set + CUDA context and
allocator slack. The backward working set is one layer's activation gradients, taken as large as
what that layer saved (without checkpointing), or a recomputed layer's saves plus their gradients
(with checkpointing). Context and slack are the planner's constants (``vram.CUDA_OVERHEAD_GB``,
``vram.ALLOCATOR_SLACK``) until a GPU run measures them.
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


def full_config() -> dict:
    from diffusers import AceStepTransformer1DModel

    from acestep_train.models import keymap
    from acestep_train.models.full_config import FULL_DIT

    return keymap.config_for(AceStepTransformer1DModel, FULL_DIT)


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
    frozen = sum(p.numel() * p.element_size() for p in transformer.parameters() if not p.requires_grad)
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
