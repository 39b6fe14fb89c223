"""An exported LoRA loads at the trained strength in diffusers, ACE-Step's PEFT loader and ComfyUI."""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, PeftModel
from peft.utils import get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file

from acestep_train.export.names import original_module
from acestep_train.export.probe import effective_deltas
from acestep_train.export.readers import lora_from_state
from acestep_train.export.writers import LORA_FILE, write_lora
from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS
from export_oracles import comfyui_lora_deltas, comfyui_model_keys, original_decoder

TOL = 1e-5  # fp32 round-off of B @ A on the tiny model


def linears(model) -> dict[str, torch.Tensor]:
    return {n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


@pytest.fixture(scope="module")
def trained(tiny_original):
    """A PEFT LoRA on attention + MLP with a per-module rank, given non-zero random weights."""
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    base = linears(transformer)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0", "gate_proj"],
                        rank_pattern={"layers.1.cross_attn.to_q": 2}, alpha_pattern={"layers.1.cross_attn.to_q": 6})
    transformer.add_adapter(config)
    torch.manual_seed(0)
    for name, param in transformer.named_parameters():
        if "lora_" in name:
            param.data.normal_(std=0.2)
    adapter = lora_from_state(get_peft_model_state_dict(transformer), config.to_dict())
    adapter.metadata = {"trigger_word": "mybandsound", "base_model": info.name, "variant": "turbo"}
    deltas = effective_deltas(transformer, base, list(adapter.modules))
    return info, transformer, base, adapter, deltas


def close(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_delta_formula_matches_peft_forward(trained):
    _, _, _, adapter, deltas = trained
    assert len(adapter.modules) == 2 * 9  # 2 layers x (self 4 + cross 4 + gate_proj)
    assert adapter.modules["layers.1.cross_attn.to_q"].rank == 2
    assert adapter.modules["layers.1.cross_attn.to_q"].scale == 3.0
    assert close(adapter.deltas(), deltas) < TOL
    assert min(d.abs().max().item() for d in deltas.values()) > 0.01  # a real, non-zero adapter


def test_diffusers_pipeline_loads_every_key_at_trained_strength(trained, tmp_path, caplog):
    info, transformer, base, adapter, deltas = trained
    write_lora(adapter, tmp_path)
    pipe = build_pipeline(load_components(info, PARTS, "cpu"))
    pipe.load_lora_weights(tmp_path, weight_name=LORA_FILE)
    assert "No LoRA keys" not in caplog.text
    assert close(effective_deltas(pipe.transformer, base, list(deltas)), deltas) < TOL
    inputs = {"hidden_states": torch.randn(1, 8, 8), "timestep": torch.tensor([0.5]),
              "timestep_r": torch.tensor([0.5]), "encoder_hidden_states": torch.randn(1, 4, 32),
              "context_latents": torch.randn(1, 8, 16)}
    with torch.no_grad():
        assert torch.allclose(pipe.transformer(**inputs).sample, transformer(**inputs).sample, atol=1e-5)


def test_peft_loader_on_original_names(trained, tmp_path):
    """What ACE-Step's UI does: PeftModel.from_pretrained(decoder, folder)."""
    _, _, base, adapter, deltas = trained
    write_lora(adapter, tmp_path)
    model = PeftModel.from_pretrained(original_decoder(base), tmp_path)
    written = load_file(tmp_path / LORA_FILE)
    loaded = get_peft_model_state_dict(model)  # keys keep the base_model.model. prefix
    assert loaded.keys() == written.keys()  # every key mapped, none left over
    assert all(torch.equal(loaded[k], written[k]) for k in written)
    measured = effective_deltas(model.base_model.model, {original_module(k): v for k, v in base.items()},
                                [original_module(k) for k in deltas])
    assert close({k: measured[original_module(k)] for k in deltas}, deltas) < TOL


def test_comfyui_key_map_covers_every_key(trained, tmp_path):
    _, _, base, adapter, deltas = trained
    write_lora(adapter, tmp_path)
    applied = comfyui_lora_deltas(load_file(tmp_path / LORA_FILE), comfyui_model_keys(base))
    expected = {f"diffusion_model.decoder.{original_module(k)}.weight": v for k, v in deltas.items()}
    assert close(applied, expected) < TOL


def test_export_carries_trigger_word_and_base(trained, tmp_path):
    _, _, _, adapter, _ = trained
    write_lora(adapter, tmp_path)
    with safe_open(str(tmp_path / LORA_FILE), "pt") as handle:
        studio = json.loads(handle.metadata()["acestep_studio"])
    assert studio == {"trigger_word": "mybandsound", "base_model": "tiny-turbo", "variant": "turbo"}
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["lora_alpha"] == config["r"] == 4 and config["rank_pattern"] == {"layers.1.cross_attn.q_proj": 2}
    assert "layers.0.mlp.gate_proj" in config["target_modules"]


def test_reimport_of_export_gives_same_deltas(trained, tmp_path):
    """Import from other tools: our own export read back as a foreign PEFT folder."""
    _, _, _, adapter, deltas = trained
    write_lora(adapter, tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    again = lora_from_state(load_file(tmp_path / LORA_FILE), config)
    assert close(again.deltas(), deltas) < TOL


@pytest.mark.parametrize("prefix", ["lora_unet_decoder_", "diffusion_model.decoder."])
def test_comfyui_other_prefixes_it_accepts(trained, tmp_path, prefix):
    """ComfyUI also maps ``lora_unet_decoder_<flat>`` and ``diffusion_model.decoder.<path>`` names."""
    _, _, base, adapter, deltas = trained
    write_lora(adapter, tmp_path)
    renamed = {}
    for key, tensor in load_file(tmp_path / LORA_FILE).items():
        module, _, suffix = key[len("base_model.model."):].partition(".lora_")
        flat = module.replace(".", "_") if prefix.endswith("_") else module
        renamed[f"{prefix}{flat}.lora_{suffix.replace('A.', 'down.').replace('B.', 'up.')}"] = tensor
    applied = comfyui_lora_deltas(renamed, comfyui_model_keys(base))
    expected = {f"diffusion_model.decoder.{original_module(k)}.weight": v for k, v in deltas.items()}
    assert close(applied, expected) < TOL
    with pytest.raises(AssertionError, match="lora key not loaded"):
        comfyui_lora_deltas({"lora_unet_layers_0_self_attn_q_proj.lora_up.weight": torch.zeros(1)},
                            comfyui_model_keys(base))
