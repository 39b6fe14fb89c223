"""Training math: timestep samplers, CFG dropout rate, masked loss, data coverage, adapter freezing."""

from __future__ import annotations

import math

import pytest
import torch

from acestep_train.models import find_model, load_components
from acestep_train.train.adapters import Adapter
from acestep_train.train.config import AdapterConfig, TimestepConfig
from acestep_train.train.data import batches_for_epoch, windows_for_epoch
from acestep_train.train.flow import TURBO_TABLE, masked_loss, resolve, sample_timesteps, snr_weights


def test_turbo_samples_only_the_table():
    flow = resolve(TimestepConfig(), is_turbo=True, model_config={})
    t = sample_timesteps(flow, 20000, torch.Generator().manual_seed(0))
    values = torch.unique(t).tolist()
    assert len(values) == 8 and all(min(abs(x - v) for v in TURBO_TABLE) < 1e-6 for x in values)
    counts = torch.stack([(t == torch.tensor(v)).sum() for v in TURBO_TABLE]).float()
    assert counts.min() > 20000 / 8 * 0.9  # uniform over the 8 entries


def test_base_samples_logit_normal_with_the_models_mu_sigma():
    flow = resolve(TimestepConfig(), is_turbo=False, model_config={"timestep_mu": -0.2, "timestep_sigma": 0.8})
    assert (flow.sampler, flow.mu, flow.sigma, flow.cfg_dropout) == ("logit_normal", -0.2, 0.8, 0.15)
    t = sample_timesteps(flow, 50000, torch.Generator().manual_seed(0))
    logits = torch.log(t / (1 - t))
    assert float(logits.mean()) == pytest.approx(-0.2, abs=0.02)
    assert float(logits.std()) == pytest.approx(0.8, abs=0.02)
    # Kolmogorov-Smirnov distance to the normal CDF of the logits
    sorted_logits, _ = torch.sort(logits)
    cdf = 0.5 * (1 + torch.erf((sorted_logits + 0.2) / (0.8 * math.sqrt(2))))
    empirical = torch.arange(1, len(t) + 1) / len(t)
    assert float((cdf - empirical).abs().max()) < 0.01
    assert len(set(t.tolist())) > 40000  # continuous, not a table


def test_user_overrides_win_and_are_recorded():
    flow = resolve(TimestepConfig(sampler="logit_normal", cfg_dropout=0.3, min_snr_gamma=5), True, {})
    assert (flow.sampler, flow.cfg_dropout, flow.min_snr_gamma, flow.mu) == ("logit_normal", 0.3, 5, -0.4)


def test_cfg_dropout_rate(tiny_original, tmp_path):
    from types import SimpleNamespace

    from acestep_train.train.trainer import Trainer

    trainer = Trainer.__new__(Trainer)
    trainer.flow = resolve(TimestepConfig(cfg_dropout=0.15), False, {})
    trainer.generator = torch.Generator().manual_seed(1)
    trainer.null_condition = torch.full((1, 1, 4), 7.0)
    batch = SimpleNamespace(size=4000, encoder_hidden_states=torch.zeros(4000, 3, 4))
    out = trainer.dropped_conditions(batch)
    dropped = (out[:, 0, 0] == 7.0).float().mean()
    assert float(dropped) == pytest.approx(0.15, abs=0.02)
    assert torch.equal(out[out[:, 0, 0] == 7.0], torch.full_like(out[out[:, 0, 0] == 7.0], 7.0))


def test_padding_does_not_change_the_loss():
    torch.manual_seed(0)
    pred, target = torch.randn(1, 10, 8), torch.randn(1, 10, 8)
    alone = masked_loss(pred, target, torch.ones(1, 10), torch.ones(1))
    padded_pred = torch.cat([pred, torch.randn(1, 6, 8) * 100], dim=1)
    padded_target = torch.cat([target, torch.randn(1, 6, 8)], dim=1)
    mask = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], dim=1)
    assert torch.allclose(masked_loss(padded_pred, padded_target, mask, torch.ones(1)), alone)


def test_min_snr_weights_velocity_form():
    t = torch.tensor([0.5, 0.9, 0.1])
    snr = ((1 - t) / t) ** 2
    assert torch.allclose(snr_weights(t, 5.0), torch.clamp(snr, max=5.0) / (snr + 1))
    assert torch.equal(snr_weights(t, 0.0), torch.ones(3))


def test_crops_cover_every_part_of_every_song():
    frames = {"long": 200, "short": 31}
    seen = {f: set() for f in frames}
    for epoch in range(5):  # ceil(200 / 60) + 1 = 5 visits make a cycle
        for w in windows_for_epoch(frames, 60, 1, seed=3, epoch=epoch):
            assert w.length % 2 == 0 and w.start % 2 == 0 and w.start + w.length <= frames[w.file] - frames[w.file] % 2
            seen[w.file].update(range(w.start, w.start + w.length))
    assert seen["long"] == set(range(200)) and seen["short"] == set(range(30))
    again = windows_for_epoch(frames, 60, 1, seed=3, epoch=2)
    assert again == windows_for_epoch(frames, 60, 1, seed=3, epoch=2)  # a function of (seed, epoch): resumable


def test_batches_group_similar_lengths():
    frames = {f"s{i}": 20 + 10 * i for i in range(8)}
    windows = windows_for_epoch(frames, 0, 1, seed=0, epoch=0)
    for batch in batches_for_epoch(windows, 2):
        assert abs(batch[0].length - batch[-1].length) <= 10


def test_only_adapter_parameters_train(tiny_original):
    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    adapter = Adapter(transformer, AdapterConfig(rank=2, targets="self", mlp=True))
    trainable = {n for n, p in transformer.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert all("self_attn" in n or "mlp" in n for n in trainable)
    assert all(p.dtype == torch.float32 for p in adapter.params)
    assert len(adapter.names) == 2 * (4 + 3)


def test_an_untrained_adapter_is_never_reported_as_success(tiny_original):
    from acestep_train.train.outputs import check_adapter_changed
    from acestep_train.train.errors import TrainingError

    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    adapter = Adapter(transformer, AdapterConfig(rank=2))  # LoRA B starts at zero: no change at all
    with pytest.raises(TrainingError, match="the trained adapter changes nothing"):
        check_adapter_changed(adapter)
    for param in adapter.params:
        param.data.normal_()
    check_adapter_changed(adapter)
