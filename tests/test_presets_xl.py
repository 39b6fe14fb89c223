"""XL presets and the planner at the XL's size: which tiers train it with which settings, and the refusals."""

from __future__ import annotations

import argparse

import pytest
import torch

from acestep_train.commands import train as train_command
from acestep_train.models import keymap
from acestep_train.models.full_config import FULL_XL_DIT
from acestep_train.presets import (PLACEHOLDERS, TIERS, PresetRefused, check_fits, expected_memory, load_preset,
                                   xl_tiers)
from acestep_train.train.config import config_from_dict
from acestep_train.vram import XL_DIT, DitShape, RunShape, estimate, lora_params


def test_the_planners_xl_shape_is_the_real_xl_dit():
    from diffusers import AceStepTransformer1DModel

    with torch.device("meta"):
        dit = AceStepTransformer1DModel(**keymap.config_for(AceStepTransformer1DModel, FULL_XL_DIT))
    linears = sum(m.weight.numel() for name, m in dit.named_modules()
                  if isinstance(m, torch.nn.Linear) and name.startswith("layers."))
    assert sum(p.numel() for p in dit.parameters()) == XL_DIT.parameters == 4_168_897_088
    assert XL_DIT.layer_linear_parameters == linears
    assert DitShape.from_config(FULL_XL_DIT, XL_DIT.parameters) == XL_DIT


def test_every_tier_trains_the_xl_and_leaves_a_gigabyte():
    assert xl_tiers() == list(TIERS)
    for tier in TIERS:
        preset = load_preset(tier)
        for adapter in ("lora", "lokr"):
            plan = expected_memory(preset, adapter, model="xl")
            assert plan["total"] + 1.0 <= preset.vram_gb, (tier, adapter, plan)


def test_8gb_trains_the_xl_only_on_int8_base_weights():
    preset = load_preset("8gb")
    xl = config_from_dict({**PLACEHOLDERS, **preset.for_model("lora", "xl")})
    assert xl.loop.base_weights == "int8" and xl.loop.gradient_checkpointing and xl.data.batch_size == 1
    assert config_from_dict({**PLACEHOLDERS, **preset.for_model("lora", "2b")}).loop.base_weights == "full"
    check_fits(preset, xl, "xl")  # fits as shipped
    xl.loop.base_weights = "full"
    with pytest.raises(PresetRefused, match=r"preset 8gb \(8 GB\) cannot train the XL DiT") as refused:
        check_fits(preset, xl, "xl")
    message = str(refused.value)
    assert "--base-weights int8" in message and "weights 7.8 GB" in message


def test_a_preset_without_xl_settings_refuses_the_xl_by_name():
    with pytest.raises(PresetRefused, match="quick_test .* has no settings for the XL models: choose one of 8gb"):
        load_preset("quick_test").for_model("lora", "xl")


def test_int8_base_weights_halve_the_xl_weights_in_the_planner():
    run = RunShape(lora_params(XL_DIT, 16), "adamw8bit", 1, 1500, gradient_checkpointing=True)
    full, int8 = estimate(XL_DIT, run), estimate(XL_DIT, RunShape(**{**run.__dict__, "base_weights": "int8"}))
    assert full["weights"] == pytest.approx(XL_DIT.parameters * 2 / 1024**3, abs=0.01)
    linear = XL_DIT.layer_linear_parameters
    expected = ((XL_DIT.parameters - linear) * 2 + linear + 4 * XL_DIT.layer_linear_rows) / 1024**3
    assert int8["weights"] == pytest.approx(expected, abs=0.01)
    assert int8["activations"] == full["activations"]
    with pytest.raises(ValueError, match="base_weights must be one of"):
        RunShape(1, base_weights="int4")


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_train_command_takes_the_tiers_xl_settings_for_an_xl_model(tiny_xl, tiny_original, tmp_path):
    common = ("--dataset-dir", str(tmp_path), "--output-dir", str(tmp_path / "run"), "--preset", "16gb")
    xl = train_command.resolve_config(parsed("--checkpoint-dir", str(tiny_xl), "--model-variant", "xl-turbo", *common))
    assert xl.loop.gradient_checkpointing and (xl.data.batch_size, xl.data.grad_accum) == (2, 2)
    small = train_command.resolve_config(parsed("--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                                                *common))
    assert not small.loop.gradient_checkpointing and small.data.batch_size == 2
    flags = train_command.resolve_config(parsed("--checkpoint-dir", str(tiny_xl), "--model-variant", "xl-turbo",
                                                *common, "--batch-size", "3"))
    assert flags.data.batch_size == 3  # the user's flags still beat the preset


def test_train_command_refuses_an_xl_run_its_tier_cannot_hold(tiny_xl, tmp_path, capsys):
    from acestep_train.cli import main

    code = main(["train", "--checkpoint-dir", str(tiny_xl), "--model-variant", "xl-turbo", "--dataset-dir",
                 str(tmp_path), "--output-dir", str(tmp_path / "run"), "--preset", "8gb", "--base-weights", "full"])
    assert code == 2
    assert "preset 8gb (8 GB) cannot train the XL DiT" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_train_tab_fills_the_xl_settings_and_estimates_the_xl(tiny_xl, tiny_original, tmp_path):
    from app import train_actions as actions
    from app import train_settings as ts
    from app.context import AppContext
    from app.settings import make_settings

    settings = make_settings("127.0.0.1", 7861, False, None, [str(tmp_path / "data")], False,
                             state_dir=str(tmp_path / "studio-state"))
    xl_ctx = AppContext(settings, tiny_xl, tmp_path / "state")
    assert actions.model_size(xl_ctx, "xl-turbo") == "xl"
    assert actions.model_size(AppContext(settings, tiny_original, tmp_path / "state2"), "turbo") == "2b"
    names = ["base_weights", "batch", "optimizer"]
    assert actions.preset_fill("8gb", "lora", names, "xl") == ["int8", 1, "adafactor"]
    assert actions.preset_fill("8gb", "lora", names, "2b")[0] == "full"
    config = config_from_dict({**PLACEHOLDERS, **load_preset("8gb").for_model("lora", "xl")})
    text = ts.vram_text(config, None, "xl")
    assert text.startswith("VRAM estimate for the XL model: 5.7 GB") and "int8 base weights" in text
