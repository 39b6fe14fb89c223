"""Preprocessing conditions the model exactly as AceStepPipeline does at inference."""

from __future__ import annotations

import torch

from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS
from acestep_train.preprocess.conditioning import Conditioner
from acestep_train.preprocess.vae_encode import TileSettings, encode_waveform
from acestep_train.prompts import SongText, format_texts

SONG = SongText(caption="dreamy synthwave, female vocals", lyrics="[Verse]\nneon rain on the window",
                language="en", bpm=96, keyscale="A minor", timesignature="4", duration=2.0)


def capture_dit_inputs(pipe, song: SongText) -> dict:
    """Run the pipeline for one step and record what its DiT was given."""
    seen = {}

    def hook(module, args, kwargs):
        seen.update({k: kwargs[k].detach().clone() for k in ("encoder_hidden_states", "context_latents")})

    handle = pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        pipe(**song.pipeline_kwargs(), num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    return seen


def test_conditioning_equals_the_pipelines(tiny_original):
    components = load_components(find_model([tiny_original], "turbo"), PARTS, device="cpu")
    pipe = build_pipeline(components)
    expected = capture_dit_inputs(pipe, SONG)

    conditioner = Conditioner(components, torch.device("cpu"), torch.float32)
    hidden, mask = conditioner.encode_condition(conditioner.encode_text(SONG))
    frames = int(SONG.duration * 25)
    context = conditioner.context_latents(frames)

    assert torch.equal(hidden, expected["encoder_hidden_states"][0])
    assert mask.bool().all() and mask.shape == (hidden.shape[0],)
    assert torch.equal(context, expected["context_latents"][0])
    assert context.shape == (frames, 16)


def test_metas_text_carries_the_fields():
    text, lyrics = format_texts(SONG)
    assert "# Caption\ndreamy synthwave, female vocals" in text
    assert "- bpm: 96\n- timesignature: 4\n- keyscale: A minor\n- duration: 2 seconds" in text
    assert lyrics == "# Languages\nen\n\n# Lyric\n[Verse]\nneon rain on the window<|endoftext|>"
    unknown, _ = format_texts(SongText(caption="x"))
    assert "- bpm: N/A\n- timesignature: N/A\n- keyscale: N/A" in unknown


def test_tiled_vae_encode_has_no_seams(tiny_original):
    vae = load_components(find_model([tiny_original], "turbo"), ["vae"], device="cpu").vae
    seconds = 12
    t = torch.arange(48000 * seconds) / 48000
    audio = torch.stack([torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 330 * t)]) * 0.5
    whole = encode_waveform(vae, audio, TileSettings(tile_frames=10_000))
    tiled = encode_waveform(vae, audio, TileSettings(tile_frames=50, overlap_frames=25))
    assert whole.shape == tiled.shape == (seconds * 25, 8)
    assert (whole - tiled).abs().max() < 1e-4 * whole.abs().max()
    seamy = encode_waveform(vae, audio, TileSettings(tile_frames=50, overlap_frames=0))
    assert (whole - seamy).abs().max() > 100 * (whole - tiled).abs().max()  # the overlap is what removes seams
