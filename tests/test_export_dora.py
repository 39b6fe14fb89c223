"""An exported DoRA plays the trained weights in ACE-Step's PEFT loader, diffusers and ComfyUI.

The trained weights are measured on the real PEFT DoRA layers (``effective_deltas``); each consumer
loads our file through its real code (PEFT, diffusers) or the oracle that follows its code (ComfyUI),
and every layer must come out at the trained weight, magnitude included.
"""

from __future__ import annotations

import json
from functools import partial

import pytest
import torch
from peft import LoraConfig, PeftModel
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file

from acestep_train.compare.choose import at_strength
from acestep_train.export.dora import DORA_COMFYUI_FILE, NEAREST_EXACT, write_dora, write_dora_comfyui
from acestep_train.export.exporter import export_adapter
from acestep_train.export.load import load_adapter
from acestep_train.export.names import original_module
from acestep_train.export.probe import effective_deltas
from acestep_train.export.writers import LORA_FILE
from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS
from export_oracles import (
    comfy_names,
    comfyui_lora_deltas,
    comfyui_model_keys,
    largest_gap,
    linear_weights,
    original_decoder,
    random_lora,
    tab_export,
    tiny_dit_inputs,
)

TOL = 1e-5


@pytest.fixture(scope="module")
def trained(tiny_original):
    """A PEFT DoRA on attention + MLP with a per-module rank; random LoRA factors and magnitudes."""
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    base = linear_weights(transformer)
    adapter = random_lora(transformer, LoraConfig(
        r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0", "gate_proj"], use_dora=True,
        rank_pattern={"layers.1.cross_attn.to_q": 2}, alpha_pattern={"layers.1.cross_attn.to_q": 6}), seed=0)
    adapter.metadata = {"trigger_word": "tok", "base_model": info.name, "variant": "turbo"}
    deltas = effective_deltas(transformer, base, list(adapter.modules))
    return info, transformer, base, adapter, deltas


close = largest_gap


def test_weight_formula_matches_peft_forward(trained):
    _, _, base, adapter, deltas = trained
    assert adapter.kind == "dora" and len(adapter.modules) == 2 * 9
    assert adapter.modules["layers.1.cross_attn.to_q"].rank == 2
    assert close(adapter.deltas(base=base), deltas) < TOL
    assert min(d.abs().max().item() for d in deltas.values()) > 0.01
    with pytest.raises(ValueError, match="depends on the base weight"):
        adapter.deltas()


def test_peft_loader_on_original_names(trained, tmp_path):
    """ACE-Step's UI: PeftModel.from_pretrained(decoder, folder) rebuilds the DoRA layers, magnitudes included."""
    _, _, base, adapter, deltas = trained
    write_dora(adapter, tmp_path)
    assert json.loads((tmp_path / "adapter_config.json").read_text())["use_dora"] is True
    model = PeftModel.from_pretrained(original_decoder(base), tmp_path)
    written, loaded = load_file(tmp_path / LORA_FILE), get_peft_model_state_dict(model)
    assert loaded.keys() == written.keys() and sum("lora_magnitude_vector" in k for k in written) == 18
    assert all(torch.equal(loaded[k], written[k]) for k in written)
    measured = effective_deltas(model.base_model.model, {original_module(k): v for k, v in base.items()},
                                [original_module(k) for k in deltas])
    assert close({k: measured[original_module(k)] for k in deltas}, deltas) < TOL


def test_diffusers_pipeline_loads_it_as_dora(trained, tmp_path, caplog):
    info, transformer, base, adapter, deltas = trained
    pipe = build_pipeline(load_components(info, PARTS, "cpu"))
    pipe.load_lora_weights(write_dora(adapter, tmp_path).parent, weight_name=LORA_FILE)
    assert "No LoRA keys" not in caplog.text and all(c.use_dora for c in pipe.transformer.peft_config.values())
    assert close(effective_deltas(pipe.transformer, base, list(deltas)), deltas) < TOL
    with torch.no_grad():
        gap = pipe.transformer(**tiny_dit_inputs()).sample - transformer(**tiny_dit_inputs()).sample
    assert gap.abs().max().item() <= TOL


def test_comfyui_file_reaches_every_layer_with_its_magnitude(trained, tmp_path):
    _, _, base, adapter, deltas = trained
    write_dora_comfyui(adapter, tmp_path, {m: base[m] for m in adapter.modules}, "tiny-turbo")
    state = load_file(tmp_path / DORA_COMFYUI_FILE)
    assert sum(k.endswith(".dora_scale") for k in state) == 18 and not any(k.endswith(".alpha") for k in state)
    model_base = comfy_names(base)
    applied = comfyui_lora_deltas(state, comfyui_model_keys(base), model_base)
    assert close(applied, comfy_names(deltas)) < TOL
    half = comfyui_lora_deltas(state, comfyui_model_keys(base), model_base, strength=0.5)
    assert close(half, comfy_names({k: 0.5 * v for k, v in deltas.items()})) < TOL


def test_comfyui_drops_a_peft_magnitude_and_plays_a_plain_lora(trained, tmp_path):
    """Why ComfyUI gets its own file: it never reads lora_magnitude_vector."""
    _, _, base, adapter, deltas = trained
    write_dora(adapter, tmp_path)
    state = load_file(tmp_path / LORA_FILE)
    with pytest.raises(AssertionError, match="lora key not loaded.*lora_magnitude_vector"):
        comfyui_lora_deltas(state, comfyui_model_keys(base))
    plain = {k: v for k, v in state.items() if "lora_magnitude_vector" not in k}
    assert close(comfyui_lora_deltas(plain, comfyui_model_keys(base)), comfy_names(deltas)) > 0.05


def test_a_dora_is_no_lora_of_its_rank(trained):
    """NEAREST_EXACT's claim: the magnitude makes the change full-rank, so a rank-r LoRA cannot hold it."""
    _, _, base, adapter, deltas = trained
    name = "layers.0.self_attn.to_q"
    assert "NOT exact" in NEAREST_EXACT
    assert torch.linalg.matrix_rank(deltas[name]).item() > adapter.modules[name].rank


def test_export_every_format_and_read_back(trained, tmp_path):
    info, _, base, adapter, deltas = trained
    for fmt in ("acestep", "diffusers"):
        written = export_adapter(adapter, fmt, tmp_path / fmt)
        assert written.name == LORA_FILE
        again = load_adapter(tmp_path / fmt)
        assert again.kind == "dora" and close(again.deltas(base=base), deltas) < TOL
    with pytest.raises(ValueError, match="computed from the base model, and none was found: pass --checkpoint-dir"):
        export_adapter(adapter, "comfyui", tmp_path / "comfyui")
    assert not (tmp_path / "comfyui").exists()
    written = export_adapter(adapter, "comfyui", tmp_path / "comfyui", model=info)
    studio = json.loads((tmp_path / "comfyui" / "acestep_studio.json").read_text())
    assert written.name == DORA_COMFYUI_FILE and studio["dora_scale_computed_on"] == "tiny-turbo"
    with pytest.raises(ValueError, match="read only by ComfyUI"):
        load_adapter(written)


def test_strength_is_refused_at_export_not_guessed(trained):
    _, _, _, adapter, _ = trained
    with pytest.raises(ValueError, match="cannot be baked"):
        at_strength(adapter, 0.5)
    assert at_strength(adapter, 1.0).digest() == adapter.digest()


def test_merge_equals_the_dora_applied_in_peft(trained, tmp_path):
    """Merge error <= 1e-5: every merged layer and the DiT's output against PEFT's DoRA forward."""
    from acestep_train.export.merge import merge_into_original
    from acestep_train.models.discovery import describe_model

    info, transformer, base, adapter, deltas = trained
    merged = load_components(describe_model(merge_into_original(info, adapter, 1.0, tmp_path / "m"), "original"),
                             ["transformer"], "cpu").transformer
    weights = linear_weights(merged)
    error = max((weights[k] - base[k] - deltas[k]).abs().max().item() for k in deltas)
    assert error <= TOL, error
    with torch.no_grad():
        gap = merged(**tiny_dit_inputs(12, 6)).sample - transformer(**tiny_dit_inputs(12, 6)).sample
    assert gap.abs().max().item() <= TOL
    half = linear_weights(load_components(describe_model(
        merge_into_original(info, adapter, 0.5, tmp_path / "h"), "original"), ["transformer"], "cpu").transformer)
    assert max((half[k] - base[k] - 0.5 * deltas[k]).abs().max().item() for k in deltas) <= TOL


def test_the_export_tab_says_what_each_program_does_with_a_dora(trained, tmp_path, tiny_original):
    _, _, base, adapter, deltas = trained
    said = tab_export(tmp_path, tiny_original, [tiny_original, tmp_path / "data"], partial(write_dora, adapter))
    assert said.startswith("dora, 18 layers") and "shapes checked against tiny-turbo" in said
    assert "PeftModel.from_pretrained reads use_dora" in said and "lora_magnitude_vector and builds DoRA" in said
    assert "dora_scale was computed on tiny-turbo: exact on that model only" in said
    assert "'lora key not loaded', and play as a plain LoRA: wrong sound" in said
    assert "'DoRA baked to LoRA' at the trained rank is NOT exact" in said and "merged model" in said
    out = tmp_path / "data" / "export"
    for fmt in ("acestep", "diffusers"):
        assert close(load_adapter(out / fmt).deltas(base=base), deltas) < TOL
    applied = comfyui_lora_deltas(load_file(out / "comfyui" / DORA_COMFYUI_FILE), comfyui_model_keys(base),
                                  comfy_names(base))
    assert close(applied, comfy_names(deltas)) < TOL


def test_the_export_tab_refuses_comfyui_without_the_base_and_offers_the_exact_forms(trained, tmp_path, tiny_original):
    from app.errors import UserError

    _, _, _, adapter, _ = trained
    (tmp_path / "no-models").mkdir()
    with pytest.raises(UserError, match="computed from the base model.*or merge it into the model"):
        tab_export(tmp_path, tmp_path / "no-models", [tmp_path / "no-models", tmp_path / "data"],
                   partial(write_dora, adapter))
    assert not (tmp_path / "data" / "export").exists()  # nothing written when one format is refused
