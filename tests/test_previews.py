"""Previews: each adapter strength really changes the audio; the model is restored afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from acestep_train.cli import main
from acestep_train.export.adapter_state import Adapter, LoraFactors
from acestep_train.export.writers import write_lora
from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS
from acestep_train.previews import PreviewRequest, adapter_applied, deltas_on, render
from acestep_train.prompts import SongText

SONG = SongText("warm lo-fi piano", "[Verse]\nhello", duration=1.0)


@pytest.fixture(scope="module")
def pipe(tiny_original):
    pipeline = build_pipeline(load_components(find_model([tiny_original], "turbo"), PARTS, "cpu"))
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture(scope="module")
def adapter():
    torch.manual_seed(3)
    modules = {f"layers.{i}.self_attn.to_q": LoraFactors(torch.randn(4, 32), torch.randn(32, 4), 4.0)
               for i in range(2)}
    modules.update({f"layers.{i}.cross_attn.to_v": LoraFactors(torch.randn(4, 32), torch.randn(16, 4), 4.0)
                    for i in range(2)})
    return Adapter("lora", modules)


def read(path):
    data, rate = soundfile.read(path, dtype="float32")
    assert rate == 48000
    return data


def test_scales_give_distinct_audio_and_zero_is_the_base(pipe, adapter, tmp_path):
    request = PreviewRequest(SONG, seed=7, scales=(0.0, 0.5, 1.0, 1.5), steps=2)
    result = render(pipe, adapter.deltas(), request, "turbo", tmp_path / "adapted")
    base = render(pipe, None, PreviewRequest(SONG, seed=7, steps=2), "turbo", tmp_path / "base")
    clips = {scale: read(path) for scale, path in result.files.items()}
    assert set(result.files) == {0.0, 0.5, 1.0, 1.5}
    assert clips[1.0].shape == (48000, 2)
    np.testing.assert_array_equal(clips[0.0], read(base.files[0.0]))
    for a, b in [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5)]:
        assert np.abs(clips[a] - clips[b]).max() > 1e-4, (a, b)


def test_weights_are_restored_even_after_an_error(pipe, adapter):
    before = pipe.transformer.layers[0].self_attn.to_q.weight.clone()
    with pytest.raises(RuntimeError, match="boom"):
        with adapter_applied(pipe.transformer, adapter.deltas(), 1.0):
            assert not torch.equal(pipe.transformer.layers[0].self_attn.to_q.weight, before)
            raise RuntimeError("boom")
    assert torch.equal(pipe.transformer.layers[0].self_attn.to_q.weight, before)


def test_wrong_model_adapter_is_refused(pipe):
    deltas = {"layers.9.self_attn.to_q": torch.zeros(32, 32)}
    with pytest.raises(ValueError, match="adapter modules not in this model"):
        with adapter_applied(pipe.transformer, deltas, 1.0):
            pass


def test_deltas_for_a_model_without_the_adapters_modules_are_refused(pipe):
    """``deltas_on`` (a DoRA's deltas read the base weights) refuses by name, as ``adapter_applied`` does."""
    adapter = Adapter("lora", {"layers.9.self_attn.to_q": LoraFactors(torch.zeros(4, 32), torch.zeros(32, 4), 4.0)})
    with pytest.raises(ValueError, match=r"not in this model: \['layers.9.self_attn.to_q'\] \(wrong base model\?\)"):
        deltas_on(pipe.transformer, adapter)


def test_generate_command_writes_a_wav(tiny_original, adapter, tmp_path):
    write_lora(adapter, tmp_path / "lora")
    out = tmp_path / "clip.wav"
    assert main(["generate", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--adapter", str(tmp_path / "lora"), "--scale", "0.5", "--prompt", "lo-fi piano",
                 "--duration", "2", "--steps", "2", "--output", str(out)]) == 0
    assert read(out).shape == (96000, 2)
