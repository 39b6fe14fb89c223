"""Strict loading: both layouts give identical models; every bad checkpoint is refused by name."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from acestep_train.models import (
    CheckpointMismatchError,
    CorruptCheckpointError,
    discover_models,
    find_model,
    load_components,
)
from acestep_train.models.loading import JOB_PARTS, PARTS

ALL = list(PARTS)


@pytest.fixture
def ckpt(tmp_path, tiny_original):
    """A private copy of the original-layout root that a test may damage."""
    root = tmp_path / "ckpt"
    shutil.copytree(tiny_original, root)
    return root


def dit_inputs(transformer, frames=16, text_len=5):
    cfg = transformer.config
    gen = torch.Generator().manual_seed(1)
    return dict(
        hidden_states=torch.randn(1, frames, cfg.audio_acoustic_hidden_dim, generator=gen),
        timestep=torch.tensor([0.7]),
        timestep_r=torch.tensor([0.7]),
        encoder_hidden_states=torch.randn(1, text_len, cfg.hidden_size, generator=gen),
        context_latents=torch.randn(1, frames, cfg.in_channels - cfg.audio_acoustic_hidden_dim, generator=gen),
    )


def test_both_layouts_load_identical_weights_and_outputs(tiny_original, tiny_diffusers):
    original = load_components(find_model([tiny_original], "turbo"), ALL, device="cpu")
    diffusers = load_components(find_model([tiny_diffusers], "turbo"), ALL, device="cpu")
    for part in ("transformer", "condition_encoder", "vae", "text_encoder"):
        a, b = getattr(original, part).state_dict(), getattr(diffusers, part).state_dict()
        assert a.keys() == b.keys(), part
        assert all(torch.equal(a[k], b[k]) for k in a), part
    inputs = dit_inputs(original.transformer)
    with torch.no_grad():
        out_a = original.transformer(**inputs).sample
        out_b = diffusers.transformer(**inputs).sample
    assert out_a.shape == inputs["hidden_states"].shape
    assert torch.allclose(out_a, out_b, atol=1e-6, rtol=0)  # same weights; kernels may differ by alignment
    assert original.loaded_tensors == diffusers.loaded_tensors
    assert original.loaded_tensors["transformer"] == len(original.transformer.state_dict())


def test_original_layout_matches_diffusers_own_loader(tiny_original, tiny_diffusers):
    """Our key map + config map agree with AceStepPipeline.from_pretrained on the converted folder."""
    from diffusers import AceStepPipeline

    pipe = AceStepPipeline.from_pretrained(tiny_diffusers / "tiny-turbo")
    ours = load_components(find_model([tiny_original], "turbo"), ["transformer", "condition_encoder"], "cpu")
    for part in ("transformer", "condition_encoder"):
        theirs = getattr(pipe, part).state_dict()
        mine = getattr(ours, part).state_dict()
        assert theirs.keys() == mine.keys()
        assert all(torch.equal(theirs[k], mine[k]) for k in theirs), part
    assert dict(pipe.transformer.config)["is_turbo"] is True


def test_jobs_load_only_what_they_need(tiny_original):
    model = find_model([tiny_original], "turbo")
    pre = load_components(model, JOB_PARTS["preprocess"], "cpu")
    assert pre.transformer is None and pre.vae is not None and pre.condition_encoder is not None
    train = load_components(model, JOB_PARTS["train"], "cpu")
    assert train.vae is None and train.text_encoder is None and train.transformer is not None


def test_cpu_loads_fp32_and_dtype_is_honoured(tiny_original):
    model = find_model([tiny_original], "turbo")
    assert load_components(model, ["transformer"], "cpu").transformer.dtype == torch.float32
    half = load_components(model, ["transformer"], "cpu", dtype=torch.bfloat16).transformer
    assert all(p.dtype == torch.bfloat16 for p in half.parameters())


def test_condition_encoder_gets_transposed_silence_latent(tiny_original):
    model = find_model([tiny_original], "turbo")
    encoder = load_components(model, ["condition_encoder"], "cpu").condition_encoder
    raw = torch.load(model.files.silence_latent, weights_only=True)
    assert raw.shape[1] == 8 and encoder.silence_latent.shape == (1, raw.shape[2], 8)
    assert torch.equal(encoder.silence_latent, raw.transpose(1, 2))


def test_audio_tokenizer_keys_are_accepted(ckpt):
    weights = ckpt / "tiny-turbo" / "model.safetensors"
    state = load_file(weights)
    state["tokenizer.quantizer.scale"] = torch.ones(3)
    save_file(state, weights)
    loaded = load_components(find_model([ckpt], "turbo"), ["transformer"], "cpu")
    assert loaded.transformer is not None


def test_missing_config_is_refused_by_name(ckpt):
    (ckpt / "tiny-turbo" / "config.json").unlink()
    model = discover_models([ckpt])
    assert all(m.name != "tiny-turbo" or not m.usable for m in model)
    from acestep_train.models.discovery import describe_model

    info = describe_model(ckpt / "tiny-turbo", "original")
    with pytest.raises(FileNotFoundError, match=r"tiny-turbo/config.json: config.json is missing"):
        load_components(info, ["transformer"], "cpu")


def test_truncated_safetensors_is_refused_by_name(ckpt):
    weights = ckpt / "tiny-turbo" / "model.safetensors"
    os.truncate(weights, weights.stat().st_size - 100)
    with pytest.raises(CorruptCheckpointError, match=r"tiny-turbo/model.safetensors: tensor .* \(truncated download"):
        load_components(find_model([ckpt], "turbo"), ["transformer"], "cpu")


def test_garbage_safetensors_is_refused_by_name(ckpt):
    (ckpt / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"<html>404 not found</html>" * 10)
    with pytest.raises(CorruptCheckpointError, match=r"vae/diffusion_pytorch_model.safetensors: header claims"):
        load_components(find_model([ckpt], "turbo"), ["vae"], "cpu")


def test_truncated_text_encoder_is_refused_by_name(ckpt):
    weights = ckpt / "Qwen3-Embedding-0.6B" / "model.safetensors"
    os.truncate(weights, 4)
    with pytest.raises(CorruptCheckpointError, match=r"Qwen3-Embedding-0.6B/model.safetensors: file is 4 bytes"):
        load_components(find_model([ckpt], "turbo"), ["text_encoder"], "cpu")


def _edit(weights, change):
    state = load_file(weights)
    change(state)
    save_file(state, weights)


def test_key_of_no_part_is_refused(ckpt):
    _edit(ckpt / "tiny-turbo" / "model.safetensors", lambda s: s.__setitem__("lm_head.weight", torch.ones(2)))
    with pytest.raises(CheckpointMismatchError, match=r"model.safetensors: 1 keys belong to no ACE-Step part: lm_head"):
        load_components(find_model([ckpt], "turbo"), ["transformer"], "cpu")


def test_missing_key_is_refused(ckpt):
    _edit(ckpt / "tiny-turbo" / "model.safetensors", lambda s: s.pop("decoder.proj_in.1.weight"))
    with pytest.raises(CheckpointMismatchError, match=r"model.safetensors: 1 missing keys: proj_in_conv.weight"):
        load_components(find_model([ckpt], "turbo"), ["transformer"], "cpu")


def test_unexpected_key_in_diffusers_part_is_refused(tmp_path, tiny_diffusers):
    root = tmp_path / "d"
    shutil.copytree(tiny_diffusers, root)
    weights = root / "tiny-turbo" / "transformer" / "diffusion_pytorch_model.safetensors"
    _edit(weights, lambda s: s.__setitem__("layers.9.extra.weight", torch.ones(2)))
    with pytest.raises(CheckpointMismatchError, match=r"transformer/diffusion_pytorch_model.safetensors: 1 unexpected"):
        load_components(find_model([root], "turbo"), ["transformer"], "cpu")


def test_shape_mismatch_is_refused(ckpt):
    def widen(state):
        state["decoder.proj_in.1.bias"] = torch.zeros(33)

    _edit(ckpt / "tiny-turbo" / "model.safetensors", widen)
    with pytest.raises(CheckpointMismatchError, match=r"shape mismatch: proj_in_conv.bias \(33,\) != expected \(32,\)"):
        load_components(find_model([ckpt], "turbo"), ["transformer"], "cpu")


class Payload:
    """Unpickling this would run code; weights_only loading must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/acestep-pwned",))


@pytest.mark.parametrize("content", [Payload(), {"latent": torch.zeros(1, 8, 4)}])
def test_silence_latent_must_be_a_plain_tensor(ckpt, content):
    torch.save(content, ckpt / "tiny-turbo" / "silence_latent.pt")
    with pytest.raises(CorruptCheckpointError, match=r"tiny-turbo/silence_latent.pt"):
        load_components(find_model([ckpt], "turbo"), ["condition_encoder"], "cpu")
    assert not os.path.exists("/tmp/acestep-pwned")


def test_unknown_part_is_refused(tiny_original):
    with pytest.raises(ValueError, match="unknown model parts"):
        load_components(find_model([tiny_original], "turbo"), ["lm"], "cpu")
