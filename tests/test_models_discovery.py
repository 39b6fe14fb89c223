"""Discovery of both layouts, variant detection, model selection, missing parts."""

from __future__ import annotations

import json
import shutil

import pytest

from acestep_train.models.discovery import discover_models, find_model, select_model
from acestep_train.models.variants import detect_variant


def test_discovers_both_layouts_with_report(tiny_original, tiny_diffusers):
    models = {(m.layout, m.name): m for m in discover_models([tiny_original, tiny_diffusers])}
    assert set(models) == {("original", "tiny-turbo"), ("original", "tiny-base"), ("diffusers", "tiny-turbo")}
    original, diffusers = models[("original", "tiny-turbo")], models[("diffusers", "tiny-turbo")]
    assert original.usable and diffusers.usable
    assert original.parameters == diffusers.parameters > 0  # same weights; silence buffer not counted
    assert original.dtypes == ("F32",)
    assert original.variant.name == "turbo" and models[("original", "tiny-base")].variant.name == "base"
    assert "original layout" in original.describe() and "ok" in original.describe()


@pytest.mark.parametrize(
    ("config", "folder", "base_model", "expected"),
    [
        ({"is_turbo": True}, "anything", None, "turbo"),
        ({"is_turbo": False}, "acestep-v15-base", None, "base"),
        ({"is_turbo": False}, "acestep-v15-sft", None, "sft"),
        ({}, "acestep-v15-turbo", None, "turbo"),
        ({"is_turbo": False}, "acestep-v15-turbo", None, None),  # config outranks the name
        ({"is_turbo": False, "model_version": "sft"}, "my-style", None, "sft"),
        ({"is_turbo": False}, "my-style-finetune", "acestep-v15-sft", "sft"),
        ({"is_turbo": False}, "my-style-finetune", "base", "base"),
        ({"is_turbo": False}, "my-style-finetune", None, None),
        ({"is_turbo": True, "hidden_size": 2560}, "acestep-v15-xl-turbo", None, "xl-turbo"),
        ({"is_turbo": False}, "acestep-v15-xl-sft", None, "xl-sft"),
    ],
)
def test_variant_detection(config, folder, base_model, expected):
    assert detect_variant(config, folder, base_model).name == expected


def test_official_vs_custom():
    assert detect_variant({"is_turbo": True}, "acestep-v15-turbo").official
    assert not detect_variant({"is_turbo": True}, "my-turbo-finetune").official


def test_custom_finetune_takes_its_base(tmp_path, tiny_original):
    root = tmp_path / "ckpt"
    shutil.copytree(tiny_original, root)
    custom = root / "my-band-finetune"
    (root / "tiny-base").rename(custom)
    assert select_model(discover_models([root]), "my-band-finetune").variant.name is None
    assert find_model([root], "my-band-finetune", base_model="sft").variant.name == "sft"


def test_select_by_name_then_variant(tiny_original):
    models = discover_models([tiny_original])
    assert select_model(models, "tiny-base").name == "tiny-base"
    assert select_model(models, "turbo").name == "tiny-turbo"
    with pytest.raises(ValueError, match="no model matches 'sft' .found: .*tiny-turbo.*Download button"):
        select_model(models, "sft")


def test_missing_parts_are_reported_not_raised(tmp_path, tiny_original):
    root = tmp_path / "ckpt"
    shutil.copytree(tiny_original, root)
    (root / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (root / "tiny-turbo" / "silence_latent.pt").unlink()
    model = select_model(discover_models([root]), "tiny-turbo")
    assert not model.usable
    assert set(model.missing) == {"vae/diffusion_pytorch_model.safetensors", "tiny-turbo/silence_latent.pt"}


def test_unreadable_config_is_a_problem(tmp_path, tiny_original):
    root = tmp_path / "ckpt"
    shutil.copytree(tiny_original, root)
    (root / "tiny-turbo" / "config.json").write_text("{not json")
    model = select_model(discover_models([root]), "tiny-turbo")
    assert not model.usable and "config.json: not valid JSON" in model.problems[0]


def test_missing_root_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist: checkpoint folder does not exist"):
        discover_models([tmp_path / "does-not-exist"])


def test_diffusers_layout_records_class_names(tiny_diffusers):
    index = json.loads((tiny_diffusers / "tiny-turbo" / "model_index.json").read_text())
    assert index["_class_name"] == "AceStepPipeline"
    assert index["transformer"] == ["diffusers", "AceStepTransformer1DModel"]
