"""Choose device and dtype, load just the parts a job needs, assemble the pipeline."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from acestep_train.models import keymap
from acestep_train.models.discovery import ModelInfo
from acestep_train.models.loading import (
    PARTS,
    Components,
    load_diffusers_part,
    load_original_part,
    load_text_encoder,
    load_tokenizer,
    load_vae,
)


def choose_device(requested: str | None = None) -> torch.device:
    """``requested`` if given, else CUDA, then Apple MPS, then CPU."""
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the hardware has it, fp16 on older CUDA cards, fp32 on CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def load_components(
    info: ModelInfo,
    parts: Iterable[str],
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Components:
    """Load the named parts (see ``loading.JOB_PARTS``) and count what each loaded."""
    parts = list(dict.fromkeys(parts))
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown model parts {sorted(unknown)}; choose from {PARTS}")
    device = choose_device(str(device) if device else None)
    dtype = dtype or choose_dtype(device)
    loaded = Components()
    load_part = load_original_part if info.layout == "original" else load_diffusers_part
    for part in parts:
        if part in (keymap.TRANSFORMER, keymap.CONDITION_ENCODER):
            module, count = load_part(info, part, dtype, device)
        elif part == "vae":
            module, count = load_vae(info.files.vae_dir, dtype, device)
        elif part == "text_encoder":
            module, count = load_text_encoder(info.files.text_encoder_dir, dtype, device)
        else:
            module, count = load_tokenizer(info.files.tokenizer_dir), 1
        if count == 0:
            raise ValueError(f"{info.path}: loaded no tensors for {part}")
        setattr(loaded, part, module)
        loaded.loaded_tensors[part] = count
    return loaded


def build_pipeline(components: Components):
    """An ``AceStepPipeline`` over loaded parts (all five must be loaded)."""
    from diffusers import AceStepPipeline, FlowMatchEulerDiscreteScheduler

    missing = [part for part in PARTS if getattr(components, part) is None]
    if missing:
        raise ValueError(f"the pipeline needs every part; not loaded: {', '.join(missing)}")
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    return AceStepPipeline(
        vae=components.vae,
        text_encoder=components.text_encoder,
        tokenizer=components.tokenizer,
        transformer=components.transformer,
        condition_encoder=components.condition_encoder,
        scheduler=scheduler,
    )
