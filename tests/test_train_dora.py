"""DoRA (PEFT ``use_dora``) training on the tiny model: it learns, resumes bit for bit, previews what it trained."""

from __future__ import annotations

import json

import pytest
import torch

from acestep_train.export.load import load_adapter
from acestep_train.export.probe import effective_deltas
from acestep_train.models import find_model, load_components
from acestep_train.train.adapters import Adapter
from acestep_train.train.config import AdapterConfig
from acestep_train.train.setup import run_training
from train_data import fixed_eval_loss, make_tensors, tiny_settings, step_events

DORA = {"adapter.type": "dora"}


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("train"), tiny_original, "turbo", seconds=(1.6, 2.6))


def test_dora_loss_falls_and_saves_magnitudes(tiny_original, tensors, tmp_path):
    result = run_training(tiny_settings(tiny_original, tensors, tmp_path, **DORA, **{"loop.epochs": 12}))
    assert result["steps"] == 24
    before, after = fixed_eval_loss(tiny_original, tensors), fixed_eval_loss(tiny_original, tensors, tmp_path / "final")
    assert after < 0.9 * before, (before, after)
    adapter = load_adapter(tmp_path / "final")
    assert adapter.kind == "dora" and len(adapter.modules) == 16
    assert json.loads((tmp_path / "final" / "adapter_config.json").read_text())["use_dora"] is True
    base = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    norms = {n: torch.linalg.norm(m.weight, dim=1) for n, m in base.named_modules() if n in adapter.modules}
    moved = max((f.magnitude - norms[n]).abs().max().item() for n, f in adapter.modules.items())
    assert moved > 1e-4  # the magnitudes trained away from their start (the base weight's row norms)


def test_dora_resume_is_bitwise(tiny_original, tensors, tmp_path):
    common = {**DORA, "loop.epochs": 4, "schedule.name": "cosine", "schedule.warmup_steps": 2, "adapter.dropout": 0.1}
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "whole", **common))
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "half", **common,
                               **{"checkpoint.save_every_steps": 4, "checkpoint.save_every_epochs": 0,
                                  "checkpoint.keep_last": 10}))
    resumed = run_training(tiny_settings(tiny_original, tensors, tmp_path / "resumed", **common,
                                         resume_from=str(tmp_path / "half" / "checkpoints" / "4")))
    assert resumed["steps"] == 8
    a = load_adapter(tmp_path / "whole" / "checkpoints" / "8")
    b = load_adapter(tmp_path / "resumed" / "checkpoints" / "8")
    assert a.kind == b.kind == "dora" and a.digest() == b.digest()  # every factor and magnitude, bit for bit
    assert step_events(tmp_path / "resumed")[0]["loss"] == step_events(tmp_path / "whole")[4]["loss"]


def test_resuming_a_lora_checkpoint_as_dora_is_refused(tiny_original, tensors, tmp_path):
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "lora", **{"loop.epochs": 1}))
    with pytest.raises(ValueError, match="adapter keys do not match this run"):
        run_training(tiny_settings(tiny_original, tensors, tmp_path / "x", **DORA,
                                   resume_from=str(tmp_path / "lora" / "checkpoints" / "2")))


def test_preview_deltas_are_what_the_live_dora_computes(tiny_original):
    """Previews switch the adapter off and add ``Adapter.deltas()``: that must be PEFT's DoRA weight."""
    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    base = {n: m.weight.detach().clone() for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear)}
    adapter = Adapter(transformer, AdapterConfig(type="dora", rank=4, alpha=8.0, mlp=True))
    torch.manual_seed(3)
    for param in adapter.params:
        param.data.add_(0.1 * torch.randn_like(param))
    live = effective_deltas(transformer, base, adapter.names)
    assert max((adapter.deltas()[k] - live[k]).abs().max().item() for k in live) < 1e-5


def test_a_dora_run_renders_previews(tiny_original, tensors, tmp_path):
    config = tiny_settings(tiny_original, tensors, tmp_path, **DORA, **{
        "loop.epochs": 1, "previews.every_steps": 2, "previews.duration": 1.0, "previews.steps": 2,
        "previews.scales": [0.0, 1.0]})
    run_training(config)
    clips = sorted((tmp_path / "samples").rglob("*.wav"))
    assert [c.name for c in clips] == ["scale_0.wav", "scale_1.wav"]
