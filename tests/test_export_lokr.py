"""An exported LoKr loads at the trained strength in LyCORIS (original names), diffusers and ComfyUI."""

from __future__ import annotations

import json

import pytest
import torch
from lycoris import LycorisNetwork, create_lycoris
from safetensors import safe_open
from safetensors.torch import load_file

from acestep_train.export.names import original_module
from acestep_train.export.probe import effective_deltas
from acestep_train.export.readers import lokr_from_state
from acestep_train.export.writers import LOKR_DIFFUSERS_FILE, LOKR_FILE, write_lokr_diffusers, write_lokr_lycoris
from acestep_train.models import find_model, load_components
from export_oracles import comfyui_lora_deltas, comfyui_model_keys, original_decoder

TOL = 1e-5


def attention_linears(model) -> dict[str, torch.Tensor]:
    return {n: m.weight.detach().clone() for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and "attn" in n}


def lycoris_on(model, names, config):
    LycorisNetwork.apply_preset({"enable_conv": False, "target_module": [], "target_name": names})
    network = create_lycoris(model, 1.0, algo="lokr", **config)
    network.apply_to()
    return network


@pytest.fixture(scope="module", params=[
    {"linear_dim": 4, "linear_alpha": 2, "factor": 4, "decompose_both": False},  # full-matrix mode: scale 1
    {"linear_dim": 2, "linear_alpha": 1, "factor": 4, "decompose_both": True},  # decomposed: scale 1/2
], ids=["full", "decomposed"])
def trained(request, tiny_original):
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    base = attention_linears(transformer)
    network = lycoris_on(transformer, list(base), request.param)
    torch.manual_seed(0)
    for param in network.parameters():
        param.data.normal_(std=0.3)
    adapter = lokr_from_state(network.state_dict(), dict(request.param))
    adapter.metadata = {"trigger_word": "tok", "base_model": info.name}
    return info, base, adapter, effective_deltas(transformer, base, list(adapter.modules)), request.param


def close(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_delta_formula_matches_lycoris_forward(trained):
    _, _, adapter, deltas, config = trained
    assert len(adapter.modules) == 16
    assert close(adapter.deltas(), deltas) < TOL


LYCORIS_DEFAULT_MODULES = ["Linear", "Conv1d", "Conv2d", "Conv3d", "GroupNorm", "LayerNorm"]
LOKR_CONFIG_FIELDS = ("linear_dim", "linear_alpha", "factor", "decompose_both", "use_tucker")  # what we write


def acestep_loader(tree, config, restricted: bool):
    """ACE-Step 1.5's ``_load_lokr_adapter``: ``target_name`` = the metadata's ``target_modules``;
    LyCORIS's class-default ``target_module`` list stays on there (``restricted`` turns it off)."""
    LycorisNetwork.apply_preset({"target_name": config["target_modules"],
                                 "target_module": [] if restricted else list(LYCORIS_DEFAULT_MODULES)})
    kwargs = {k: config[k] for k in LOKR_CONFIG_FIELDS if k in config}
    network = create_lycoris(tree, 1.0, algo="lokr", **kwargs)
    network.apply_to()
    return network


@pytest.mark.parametrize("restricted", [False, True], ids=["as_acestep", "targets_only"])
def test_lycoris_on_original_names_loads_every_key(trained, tmp_path, restricted):
    """What ACE-Step's UI does: create_lycoris on the decoder + apply_to + load weights."""
    _, base, adapter, deltas, _ = trained
    write_lokr_lycoris(adapter, tmp_path)
    with safe_open(str(tmp_path / LOKR_FILE), "pt") as handle:
        config = json.loads(handle.metadata()["lokr_config"])
    assert config == json.loads((tmp_path / "lokr_config.json").read_text())
    assert config["target_modules"] == sorted(original_module(n) for n in adapter.modules)
    tree = original_decoder(base)
    network = acestep_loader(tree, config, restricted)
    result = network.load_state_dict(load_file(tmp_path / LOKR_FILE), strict=False)
    assert result.unexpected_keys == []  # every key of ours lands
    if restricted:  # the targets name exactly the trained layers: nothing more is wrapped
        assert result.missing_keys == [] and len(network.loras) == len(adapter.modules)
    measured = effective_deltas(tree, {original_module(k): v for k, v in base.items()},
                                [original_module(k) for k in deltas])
    assert close({k: measured[original_module(k)] for k in deltas}, deltas) < TOL


def test_diffusers_load_lora_adapter(trained, tmp_path):
    info, base, adapter, deltas, _ = trained
    write_lokr_diffusers(adapter, tmp_path)
    transformer = load_components(info, ["transformer"], "cpu").transformer
    transformer.load_lora_adapter(load_file(tmp_path / LOKR_DIFFUSERS_FILE), prefix="transformer")
    assert close(effective_deltas(transformer, base, list(deltas)), deltas) < TOL


def test_comfyui_key_map(trained, tmp_path):
    _, base, adapter, deltas, _ = trained
    write_lokr_lycoris(adapter, tmp_path)
    applied = comfyui_lora_deltas(load_file(tmp_path / LOKR_FILE), comfyui_model_keys(base))
    assert close(applied, {f"diffusion_model.decoder.{original_module(k)}.weight": v for k, v in deltas.items()}) < TOL


def test_a_weight_decomposed_lokr_is_refused_never_read_without_its_magnitude(tmp_path):
    """LyCORIS writes ``dora_scale`` beside a LoKr's factors when it was trained with weight decomposition:
    read as a plain LoKr it would export and merge without its magnitude, a different sound."""
    from safetensors.torch import save_file

    from acestep_train.export.load import load_adapter

    name = "lycoris_layers_0_self_attn_to_q"
    save_file({f"{name}.lokr_w1": torch.ones(2, 2), f"{name}.lokr_w2": torch.ones(8, 8),
               f"{name}.alpha": torch.tensor(4.0), f"{name}.dora_scale": torch.ones(1, 16)},
              str(tmp_path / "decomposed.safetensors"))
    with pytest.raises(ValueError, match="decomposed.safetensors: .*dora_scale keys, on LoRA, LoKr or LoHA"):
        load_adapter(tmp_path / "decomposed.safetensors")
