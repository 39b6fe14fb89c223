"""LoHA (LyCORIS) on the tiny model: it learns, resumes bit for bit, previews at distinct strengths, and its
merge equals the adapted model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.export.merge import merge_into_original
from acestep_train.models import find_model, load_components
from acestep_train.models.discovery import describe_model
from acestep_train.previews import adapter_applied
from acestep_train.train.adapters import Adapter
from acestep_train.train.config import load_config
from acestep_train.train.setup import run_training
from train_data import fixed_eval_loss, make_tensors, tiny_settings, step_events

LOHA = {"adapter.type": "loha", "adapter.linear_dim": 4, "adapter.linear_alpha": 2.0}


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("train"), tiny_original, "turbo", seconds=(1.6, 2.6))


def test_loha_loss_falls_and_previews_differ_by_strength(tiny_original, tensors, tmp_path):
    config = tiny_settings(tiny_original, tensors, tmp_path, **LOHA, **{
        "loop.epochs": 12, "previews.every_steps": 24, "previews.duration": 1.0, "previews.steps": 2,
        "previews.scales": [0.0, 1.0]})
    result = run_training(config)
    assert result["steps"] == 24 and (tmp_path / "final" / "loha_weights.safetensors").is_file()
    before, after = fixed_eval_loss(tiny_original, tensors), fixed_eval_loss(tiny_original, tensors, tmp_path / "final")
    assert after < 0.9 * before, (before, after)
    adapter = load_adapter(tmp_path / "final")
    assert adapter.kind == "loha" and len(adapter.modules) == 16  # 2 layers x 8 attention projections
    samples = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "samples"]
    assert [e["step"] for e in samples] == [24]
    clips = {scale: soundfile.read(path)[0] for scale, path in samples[0]["files"].items()}
    assert np.abs(clips["0.0"] - clips["1.0"]).max() > 1e-4


def test_loha_resume_is_bitwise(tiny_original, tensors, tmp_path):
    common = {**LOHA, "loop.epochs": 4, "data.batch_size": 1, "schedule.name": "cosine", "schedule.warmup_steps": 2}
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "whole", **common))
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "half", **common, **{
        "checkpoint.save_every_steps": 4, "checkpoint.save_every_epochs": 0, "checkpoint.keep_last": 10}))
    resumed = run_training(tiny_settings(tiny_original, tensors, tmp_path / "resumed", **common,
                                         resume_from=str(tmp_path / "half" / "checkpoints" / "4")))
    assert resumed["steps"] == 8
    a = load_adapter(tmp_path / "whole" / "checkpoints" / "8").modules
    b = load_adapter(tmp_path / "resumed" / "checkpoints" / "8").modules
    assert a.keys() == b.keys() and a
    assert all(torch.equal(a[k].tensors[p], b[k].tensors[p]) for k in a for p in a[k].tensors)
    assert step_events(tmp_path / "resumed")[0]["loss"] == step_events(tmp_path / "whole")[4]["loss"]


def test_loha_dropout_is_refused_by_name(tiny_original, tensors, tmp_path):
    with pytest.raises(ValueError, match="adapter.dropout must be 0 for loha"):
        tiny_settings(tiny_original, tensors, tmp_path, **LOHA, **{"adapter.dropout": 0.1})
    with pytest.raises(ValueError, match="adapter.factor, .* are LoKr settings; loha takes none"):
        tiny_settings(tiny_original, tensors, tmp_path, **LOHA, **{"adapter.factor": 4})


def dit_inputs():
    gen = torch.Generator().manual_seed(5)
    return {"hidden_states": torch.randn(1, 12, 8, generator=gen), "timestep": torch.tensor([0.4]),
            "timestep_r": torch.tensor([0.4]), "encoder_hidden_states": torch.randn(1, 6, 32, generator=gen),
            "context_latents": torch.randn(1, 12, 16, generator=gen)}


def test_loha_merge_equals_the_adapted_model(tiny_original, tmp_path):
    """Our Adapter (LyCORIS LoHA, attention + MLP) with random factors; merge error <= 1e-5 on the DiT output."""
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    config = load_config(None, {"checkpoint_dirs": ["."], "dataset_dir": ".", "output_dir": ".", **LOHA,
                                "adapter.mlp": True})
    live = Adapter(transformer, config.adapter)
    torch.manual_seed(2)
    for param in live.params:
        param.data.normal_(std=0.3)
    live.save(tmp_path / "adapter", {"base_model": info.name})
    adapter = load_adapter(tmp_path / "adapter")
    assert adapter.kind == "loha" and len(adapter.modules) == 22
    out = merge_into_original(info, adapter, 1.0, tmp_path / "merged")
    merged = load_components(describe_model(out, "original"), ["transformer"], "cpu").transformer
    base = load_components(info, ["transformer"], "cpu").transformer
    with torch.no_grad():
        expected, got = transformer(**dit_inputs()).sample, merged(**dit_inputs()).sample
        assert (base(**dit_inputs()).sample - expected).abs().max() > 1e-3  # the adapter does something
        with adapter_applied(base, adapter.deltas(), 1.0):  # the preview path: the same deltas
            assert (base(**dit_inputs()).sample - expected).abs().max() <= 1e-5
    assert (got - expected).abs().max() <= 1e-5
