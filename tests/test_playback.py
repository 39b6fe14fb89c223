"""How an adapter is played back (issue 27): a run records the inference settings its previews used (steps,
shift, guidance) in the adapter's metadata, every export carries them, and the words the Export tab shows.
The app side (the Export tab's line and result through the API) is in test_app_api.py."""

from __future__ import annotations

import json

import pytest

from acestep_train.compare.choose import at_strength
from acestep_train.export.exporter import export_adapter
from acestep_train.export.load import adapter_metadata, load_adapter
from acestep_train.export.writers import METADATA_KEY
from acestep_train.models.safetensors_file import read_metadata
from acestep_train.previews import playback_settings, playback_words
from acestep_train.train.setup import run_training
from train_data import make_tensors, tiny_settings

PREVIEWED = {"variant": "turbo", "steps": 2, "shift": 3.0, "guidance_scale": 1.0}


def test_the_words_for_recorded_settings_older_adapters_and_unknown_variants():
    assert playback_settings("turbo") == {"variant": "turbo", "steps": 8, "shift": 3.0, "guidance_scale": 1.0}
    assert playback_settings("xl-base", 30) == {"variant": "xl-base", "steps": 30, "shift": 1.0, "guidance_scale": 7.0}
    assert playback_settings(None) is None and playback_settings("custom") is None
    assert playback_words({"inference": PREVIEWED, "variant": "base"}) == \
        "Play back with: turbo, 2 steps, shift 3, guidance 1"  # what was recorded wins over a guess
    older = playback_words({"variant": "sft"})
    assert older.startswith("Play back with: sft, 32 steps, shift 1, guidance 7 (the variant's defaults")
    assert playback_words({"inference": {"steps": 8}, "variant": "turbo"}).endswith(
        "(the variant's defaults: this adapter does not record its previews' settings)")  # a partial record
    assert "names no model variant" in playback_words({})


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("playback"), tiny_original, "turbo", seconds=(1.6,))


def tiny_run(tiny_original, tensors, output, kind: str):
    """A tiny LyCORIS run whose previews play 2 steps (``previews.steps``), as a user's Advanced JSON sets."""
    run_training(tiny_settings(tiny_original, tensors, output, **{
        "adapter.type": kind, "adapter.linear_dim": 4, "adapter.linear_alpha": 4.0, "loop.epochs": 1,
        "previews.steps": 2}))
    return output


@pytest.fixture(scope="module")
def lokr_run(tiny_original, tensors, tmp_path_factory):
    return tiny_run(tiny_original, tensors, tmp_path_factory.mktemp("lokr") / "run", "lokr")


def test_a_run_records_its_previews_settings_in_every_adapter_it_saves(lokr_run):
    saved = [lokr_run / "final", *sorted((lokr_run / "checkpoints").iterdir())]
    for folder in saved:
        assert adapter_metadata(folder)["inference"] == PREVIEWED, folder
        assert load_adapter(folder).metadata["inference"] == PREVIEWED  # the header and the json agree


@pytest.mark.parametrize("fmt, as_lora, strength", [("acestep", False, 1.0), ("comfyui", False, 0.5),
                                                    ("diffusers", False, 1.0), ("diffusers", True, 1.0)],
                         ids=["lycoris", "lycoris-at-0.5", "lokr-diffusers", "lokr-as-lora"])
def test_every_export_carries_them_in_its_file(lokr_run, tmp_path, fmt, as_lora, strength):
    adapter = load_adapter(lokr_run / "final")
    adapter = at_strength(adapter, strength) if strength != 1.0 else adapter
    written = export_adapter(adapter, fmt, tmp_path / "out", lokr_to_lora=as_lora)
    header = json.loads(read_metadata(written)[METADATA_KEY])  # what a consumer holding only the file reads
    assert header["inference"] == PREVIEWED
    assert playback_words(adapter_metadata(written)) == "Play back with: turbo, 2 steps, shift 3, guidance 1"


def test_a_loha_run_records_them_and_both_its_export_forms_carry_them(tiny_original, tensors, tmp_path):
    adapter = load_adapter(tiny_run(tiny_original, tensors, tmp_path / "run", "loha") / "final")
    for fmt in ("comfyui", "acestep"):  # ComfyUI's native LoHA; ACE-Step's exact LoRA form
        written = export_adapter(adapter, fmt, tmp_path / fmt)
        assert json.loads(read_metadata(written)[METADATA_KEY])["inference"] == PREVIEWED, written
