"""VRAM planner arithmetic and GPU detection without a GPU."""

from __future__ import annotations

import pytest

from acestep_train.gpu import GpuMonitor, detect_gpus
from acestep_train.vram import GB, DitShape, RunShape, estimate, fit_warning, lora_params

FULL = DitShape()


def test_lora_parameter_counts_match_the_measured_full_model():
    # FACTS.md: r = 8 / 16 / 64 on all attention projections -> 5.5 M / 11.0 M / 44.0 M trainable.
    assert lora_params(FULL, 8) == 5_505_024
    assert lora_params(FULL, 16) == 11_010_048
    assert lora_params(FULL, 64) == 44_040_192
    assert lora_params(FULL, 8, cross_attention=False) == 5_505_024 // 2
    assert lora_params(FULL, 8, mlp=True) == 5_505_024 + 8 * 3 * (2048 + 6144) * 24


def test_breakdown_adds_up_and_weights_are_bf16():
    plan = estimate(FULL, RunShape(lora_params(FULL, 64)))
    assert plan["weights"] == round(1_575_458_880 * 2 / GB, 2)
    assert plan["adapter"] == round(44_040_192 * 16 / GB, 2)  # fp32 weight + grad + AdamW m, v
    parts = plan["weights"] + plan["adapter"] + plan["activations"] + plan["overhead"]
    assert plan["total"] == pytest.approx(parts, abs=0.02)


def test_checkpointing_batch_and_crop_move_the_estimate_the_right_way():
    params = lora_params(FULL, 64)
    plain = estimate(FULL, RunShape(params, batch_size=2))
    checkpointed = estimate(FULL, RunShape(params, batch_size=2, gradient_checkpointing=True))
    assert checkpointed["activations"] < plain["activations"] / 5
    assert estimate(FULL, RunShape(params, batch_size=3))["total"] > plain["total"]
    assert estimate(FULL, RunShape(params, batch_size=2, crop_frames=1000))["total"] < plain["total"]
    eight_bit = estimate(FULL, RunShape(params, optimizer="adamw8bit"))["adapter"]
    assert eight_bit < estimate(FULL, RunShape(params))["adapter"]


def test_fit_warning():
    assert fit_warning(6.9, 8.0) is None
    message = fit_warning(7.5, 8.0)
    assert "does not fit 8.0 GB" in message and "gradient checkpointing" in message


def test_bad_run_shape_names_the_field():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        RunShape(1, optimizer="sgd")


def test_no_gpu_here_is_reported_not_raised():
    assert detect_gpus() == []
    with GpuMonitor(lambda sample: None) as monitor:
        assert monitor.available is False
