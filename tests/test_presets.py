"""GPU presets: every file loads and validates, choice by VRAM, the planner's view of each."""

from __future__ import annotations

import json

import pytest

from acestep_train.cli import main
from acestep_train.presets import builtin_presets, expected_memory, load_preset, pick_preset
from acestep_train.train.config import load_config


def test_every_builtin_preset_validates_for_every_adapter():
    presets = {p.name: p for p in builtin_presets()}
    assert set(presets) >= {"8gb", "12gb", "16gb", "24gb", "48gb", "quick_test", "high_quality"}
    base = {"checkpoint_dirs": ["x"], "dataset_dir": "d", "output_dir": "o"}
    for preset in presets.values():
        for kind in ("lora", "lokr", "loha", "dora"):
            config = load_config(None, base, preset.for_adapter(kind))
            assert config.adapter.type == kind


def test_tier_values_from_the_issue():
    p24 = load_config(None, {"checkpoint_dirs": ["x"], "dataset_dir": "d", "output_dir": "o"},
                      load_preset("24gb").for_adapter("lora"))
    assert (p24.adapter.rank, p24.adapter.alpha, p24.optim.name, p24.data.batch_size) == (64, 128.0, "prodigy", 3)
    p8 = load_preset("8gb").for_adapter("lora")
    assert p8["adapter"]["targets"] == "self" and p8["optim"]["name"] == "adafactor"
    assert p8["data"]["max_latent_length"] == 1000 and p8["loop"]["gradient_checkpointing"] is True


def test_dora_presets_are_their_own():
    """DoRA trains without dropout (with it PEFT reruns the base layer on a weight copy); a user's preset
    without DoRA settings is refused by name, not filled with LoRA's."""
    for preset in builtin_presets():
        dora = preset.for_adapter("dora")["adapter"]
        assert dora["type"] == "dora" and dora["dropout"] == 0.0 and dora["rank"] >= 8


def test_a_preset_without_dora_settings_is_refused_for_dora(tmp_path):
    data = json.loads(load_preset("8gb").path.read_text())
    del data["dora"]
    (tmp_path / "mine.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="mine.json: has no settings for adapter type 'dora'"):
        load_preset(str(tmp_path / "mine.json")).for_adapter("dora")


@pytest.mark.parametrize(("vram", "name"), [(None, "quick_test"), (6, "8gb"), (8, "8gb"), (11.6, "12gb"),
                                            (16, "16gb"), (23.6, "24gb"), (80, "48gb")])
def test_pick_by_vram(vram, name):
    assert pick_preset(vram).name == name


def test_each_tier_fits_its_card_by_the_planner():
    for name in ("8gb", "12gb", "16gb", "24gb", "48gb"):
        preset = load_preset(name)
        for kind in ("lora", "lokr", "loha", "dora"):
            assert expected_memory(preset, kind)["total"] + 1.0 <= preset.vram_gb, (name, kind)


def test_bad_preset_names_file_and_field(tmp_path):
    data = json.loads(load_preset("8gb").path.read_text())
    data["lora"]["optim"]["lr"] = -1
    (tmp_path / "mine.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"mine.json: lora: optim.lr must be > 0"):
        load_preset(str(tmp_path / "mine.json"))
    data["lora"]["optim"] = {"learning_rate": 1}
    (tmp_path / "mine.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"mine.json: lora: unknown setting 'optim.learning_rate'"):
        load_preset(str(tmp_path / "mine.json"))
    with pytest.raises(FileNotFoundError, match="no such preset"):
        load_preset("9000gb")


def test_preset_under_config_file_under_flags(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"optim": {"lr": 0.002}}))
    config = load_config(tmp_path / "c.json", {"checkpoint_dirs": ["x"], "dataset_dir": "d", "output_dir": "o",
                                               "data.batch_size": 5}, load_preset("16gb").for_adapter("lora"))
    assert config.optim.lr == 0.002 and config.optim.name == "prodigy"  # file over preset, field by field
    assert config.data.batch_size == 5 and config.data.grad_accum == 2  # flag over preset


def test_train_cli_takes_a_preset(tiny_original, tmp_path, capsys):
    from train_data import make_tensors

    tensors = make_tensors(tmp_path, tiny_original, "turbo", seconds=(1.6,))
    assert main(["train", "--preset", "quick_test", "--checkpoint-dir", str(tiny_original), "--model-variant",
                 "turbo", "--dataset-dir", str(tensors), "--output-dir", str(tmp_path / "run"), "--epochs", "1"]) == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["adapter"]["rank"] == 8 and run["config"]["data"]["max_latent_length"] == 500


def test_loha_presets_keep_their_exact_lora_form_within_the_export_limit():
    """ACE-Step and diffusers get a LoHA as its exact LoRA, rank dim x dim: every LoHA preset exports by default."""
    from acestep_train.export.loha_to_lora import DEFAULT_MAX_RANK
    from acestep_train.vram import DitShape, loha_params, lora_params

    for preset in builtin_presets():
        adapter = preset.for_adapter("loha")["adapter"]
        assert adapter["type"] == "loha" and adapter["linear_dim"] ** 2 <= DEFAULT_MAX_RANK, preset.name
    assert loha_params(DitShape(), 16) == 2 * lora_params(DitShape(), 16) == 22_020_096  # the probe's count


def test_a_preset_without_loha_settings_still_loads_and_refuses_only_loha(tmp_path):
    data = json.loads(load_preset("8gb").path.read_text())
    del data["loha"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    preset = load_preset(str(tmp_path / "old.json"))
    assert preset.for_adapter("lokr")["adapter"]["type"] == "lokr"
    with pytest.raises(ValueError, match="old.json: has no settings for adapter type 'loha'"):
        preset.for_adapter("loha")
