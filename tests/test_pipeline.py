"""The tiny model's AceStepPipeline, built from our loaded parts, makes a short waveform."""

from __future__ import annotations

import torch

from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS


def generate(pipe, seed):
    return pipe(
        prompt="upbeat pop with piano",
        lyrics="[Verse]\nla la la",
        audio_duration=1.0,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(seed),
    ).audios


def test_tiny_pipeline_makes_a_waveform(tiny_original):
    components = load_components(find_model([tiny_original], "turbo"), PARTS, device="cpu")
    pipe = build_pipeline(components)
    assert pipe.is_turbo and pipe.sample_rate == 48000 and pipe.latents_per_second == 25
    audio = generate(pipe, seed=3)
    assert audio.shape == (1, 2, 48000)  # one second of 48 kHz stereo
    assert torch.isfinite(audio).all() and audio.abs().max() > 0
    assert torch.equal(audio, generate(pipe, seed=3))
    assert not torch.equal(audio, generate(pipe, seed=4))


def test_pipeline_needs_every_part(tiny_original):
    import pytest

    components = load_components(find_model([tiny_original], "turbo"), ["transformer"], device="cpu")
    with pytest.raises(ValueError, match="not loaded: condition_encoder, vae, text_encoder, tokenizer"):
        build_pipeline(components)
