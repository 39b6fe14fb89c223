"""Merging an adapter into the base: the merged model's output equals the adapted model's."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file

from acestep_train.export.merge import WrongBaseError, merge_into_original
from acestep_train.export.readers import lora_from_state
from acestep_train.models import find_model, load_components
from acestep_train.models.discovery import describe_model
from acestep_train.models.tiny import TinySpec, write_demo_model


@pytest.fixture(scope="module")
def adapted(tiny_original):
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    config = LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_v", "to_out.0", "down_proj"])
    transformer.add_adapter(config)
    torch.manual_seed(1)
    for name, param in transformer.named_parameters():
        if "lora_" in name:
            param.data.normal_(std=0.2)
    return info, transformer, lora_from_state(get_peft_model_state_dict(transformer), config.to_dict())


def dit_inputs():
    gen = torch.Generator().manual_seed(5)
    return {"hidden_states": torch.randn(1, 12, 8, generator=gen), "timestep": torch.tensor([0.4]),
            "timestep_r": torch.tensor([0.4]), "encoder_hidden_states": torch.randn(1, 6, 32, generator=gen),
            "context_latents": torch.randn(1, 12, 16, generator=gen)}


def load_merged(folder):
    return load_components(describe_model(folder, "original"), ["transformer"], "cpu").transformer


def test_merged_output_equals_adapted_output(adapted, tmp_path):
    info, transformer, adapter = adapted
    out = merge_into_original(info, adapter, 1.0, tmp_path / "merged-full")
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "silence_latent.pt"}
    merged = load_merged(out)
    with torch.no_grad():
        expected = transformer(**dit_inputs()).sample
        got = merged(**dit_inputs()).sample
    assert torch.allclose(got, expected, atol=1e-5)
    base = load_components(info, ["transformer"], "cpu").transformer
    with torch.no_grad():
        assert (base(**dit_inputs()).sample - expected).abs().max() > 1e-3  # the adapter does something
    # untouched tensors are copied bit for bit (condition encoder included)
    source, written = load_file(info.files.transformer_weights), load_file(out / "model.safetensors")
    assert torch.equal(source["encoder.text_projector.weight"], written["encoder.text_projector.weight"])
    assert torch.equal(source["decoder.layers.0.self_attn.k_proj.weight"],
                       written["decoder.layers.0.self_attn.k_proj.weight"])


def test_strength_scales_the_delta(adapted, tmp_path):
    info, _, adapter = adapted
    out = merge_into_original(info, adapter, 0.5, tmp_path / "merged-half")
    key = "decoder.layers.1.self_attn.q_proj.weight"
    base, half = load_file(info.files.transformer_weights)[key], load_file(out / "model.safetensors")[key]
    assert torch.allclose(half - base, 0.5 * adapter.modules["layers.1.self_attn.to_q"].delta(), atol=1e-6)


def test_wrong_base_adapter_is_refused(adapted, tmp_path):
    _, _, adapter = adapted
    write_demo_model(tmp_path, "original", ("turbo",), spec=TinySpec(hidden_size=48, head_dim=24))
    other = find_model([tmp_path], "turbo")
    with pytest.raises(WrongBaseError, match="adapter was trained on another model"):
        merge_into_original(other, adapter, 1.0, tmp_path / "out")
    assert not (tmp_path / "out" / "model.safetensors").exists()
