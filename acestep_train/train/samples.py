"""Audio previews during training: every N steps / epochs and on "sample now".

The live DiT is reused (no second copy): its adapter is switched off, and the adapter's
weight deltas are added at each requested strength (``previews.adapter_applied``), which is
exactly what the adapter at that scale computes. The other pipeline parts (VAE, text and
condition encoders) are loaded only for the preview and freed right after, so a run that
fits keeps fitting. WAVs go to ``samples/<step>/`` and a ``samples`` event lists them.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path

import torch

from acestep_train.previews import PreviewRequest, render
from acestep_train.prompts import SongText
from acestep_train.train.config import PreviewConfig


@contextmanager
def adapter_off(adapter):
    """The live adapter contributes nothing inside the block (PEFT disabled / LyCORIS multiplier 0)."""
    if adapter.network is not None:
        adapter.network.set_multiplier(0.0)
    else:
        adapter.transformer.disable_adapters()
    try:
        yield
    finally:
        if adapter.network is not None:
            adapter.network.set_multiplier(1.0)
        else:
            adapter.transformer.enable_adapters()


def render_previews(config: PreviewConfig, trigger: str, info, adapter, out_dir: Path) -> dict[float, Path]:
    from acestep_train.models import load_components
    from acestep_train.preprocess.conditioning import make_pipeline

    transformer = adapter.transformer
    device, dtype = transformer.proj_in_conv.weight.device, transformer.proj_in_conv.weight.dtype  # int8 base: not a layer's
    parts = load_components(info, ["vae", "text_encoder", "tokenizer", "condition_encoder"], device, dtype)
    pipe = make_pipeline(parts, device)
    pipe.register_modules(transformer=transformer)
    pipe.is_turbo = info.variant.is_turbo
    caption = ", ".join(x for x in (trigger, config.caption) if x) or "music"
    song = SongText(caption, config.lyrics, config.language, config.bpm, config.keyscale, config.timesignature,
                    config.duration)
    request = PreviewRequest(song, config.seed, tuple(config.scales), config.steps)
    was_training = transformer.training
    transformer.eval()
    try:
        with adapter_off(adapter), torch.no_grad():
            result = render(pipe, adapter.deltas(), request, info.variant.family, out_dir)
    finally:
        transformer.train(was_training)
        del pipe, parts
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return result.files
