"""An exported LoHA reaches every trained layer at the trained strength in each consumer.

ComfyUI loads the LoHA itself (``loha_weights.safetensors``); ACE-Step's UI and diffusers cannot load
LoHA, so they get its exact LoRA form (``loha_to_lora.py``), loaded by their usual LoRA calls."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from lycoris import LycorisNetwork, create_lycoris
from peft import PeftModel
from safetensors.torch import load_file

from acestep_train.cli import main
from acestep_train.compare.choose import at_strength
from acestep_train.export.exporter import export_adapter
from acestep_train.export.load import load_adapter
from acestep_train.export.loha import loha_from_state, write_loha_lycoris
from acestep_train.export.loha_to_lora import RankTooLargeError, loha_as_lora
from acestep_train.export.names import lycoris_name, original_module
from acestep_train.export.probe import effective_deltas
from acestep_train.export.writers import LOHA_FILE, LORA_FILE
from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS
from export_oracles import acestep_route, comfy_names, comfyui_lora_deltas, comfyui_model_keys, largest_gap
from export_oracles import linear_weights, original_decoder, tab_export

TOL = 1e-5
CONFIG = {"linear_dim": 4, "linear_alpha": 2.0}  # scale 1/2: a scale applied twice or never shows


def lycoris_loha(model, names, config):
    LycorisNetwork.apply_preset({"enable_conv": False, "target_module": [], "target_name": names})
    network = create_lycoris(model, 1.0, algo="loha", **config)
    network.apply_to()
    return network


@pytest.fixture(scope="module")
def trained(tiny_original):
    """A LoHA on every attention and MLP linear of the tiny DiT, random non-zero factors."""
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    base = {n: w for n, w in linear_weights(transformer).items() if "attn" in n or ".mlp." in n}
    network = lycoris_loha(transformer, list(base), CONFIG)
    torch.manual_seed(4)
    for param in network.parameters():
        param.data.normal_(std=0.3)
    adapter = loha_from_state(network.state_dict(), dict(CONFIG))
    adapter.metadata = {"trigger_word": "tok", "base_model": info.name}
    return info, base, adapter, effective_deltas(transformer, base, list(adapter.modules)), network


close = largest_gap


def test_delta_formula_matches_the_lycoris_forward(trained):
    _, base, adapter, deltas, network = trained
    assert len(adapter.modules) == len(base) == 22  # 2 layers x (8 attention + 3 MLP)
    assert close(adapter.deltas(), deltas) < TOL
    assert min(d.abs().max().item() for d in deltas.values()) > 0.01
    # lycoris-lora's get_diff_weight (merge_to) scales twice: why merge and export use our formula
    module = network.loras[0]
    name = next(n for n in adapter.modules if lycoris_name(n) == module.lora_name)
    assert torch.allclose(module.get_diff_weight()[0], module.scale * deltas[name], atol=1e-6)


def test_comfyui_loads_the_native_file_at_trained_strength(trained, tmp_path):
    _, base, adapter, deltas, _ = trained
    written = export_adapter(adapter, "comfyui", tmp_path)
    assert written.name == LOHA_FILE
    applied = comfyui_lora_deltas(load_file(written), comfyui_model_keys(base))  # raises on a key not loaded
    assert close(applied, comfy_names(deltas)) < TOL


def test_comfyui_at_half_strength(trained, tmp_path):
    _, base, adapter, deltas, _ = trained
    written = export_adapter(at_strength(adapter, 0.5), "comfyui", tmp_path)
    applied = comfyui_lora_deltas(load_file(written), comfyui_model_keys(base))
    assert close(applied, comfy_names({k: 0.5 * v for k, v in deltas.items()})) < TOL


def test_acestep_refuses_the_native_file_and_its_lokr_path_would_load_nothing(trained, tmp_path):
    _, base, adapter, _, _ = trained
    write_loha_lycoris(adapter, tmp_path)
    assert acestep_route(tmp_path) is None and acestep_route(tmp_path / LOHA_FILE) is None
    # Had it been routed to ACE-Step's LoKr loader (algo="lokr"), no LoHA factor would land anywhere.
    tree = original_decoder(base)
    lokr = create_lycoris(tree, 1.0, algo="lokr", linear_dim=4, linear_alpha=2.0)
    result = lokr.load_state_dict(load_file(tmp_path / LOHA_FILE), strict=False)
    hada = [k for k in load_file(tmp_path / LOHA_FILE) if ".hada_" in k]
    assert hada and set(hada) <= set(result.unexpected_keys)


def test_acestep_gets_the_exact_lora_and_peft_loads_every_layer(trained, tmp_path):
    """What ACE-Step's UI does with the folder: PeftModel.from_pretrained(decoder, folder)."""
    _, base, adapter, deltas, _ = trained
    written = export_adapter(adapter, "acestep", tmp_path)
    assert written.name == LORA_FILE and acestep_route(tmp_path) == "peft"
    model = PeftModel.from_pretrained(original_decoder(base), tmp_path)
    measured = effective_deltas(model.base_model.model, {original_module(k): v for k, v in base.items()},
                                [original_module(k) for k in deltas])
    assert close({k: measured[original_module(k)] for k in deltas}, deltas) < TOL


def test_diffusers_gets_the_exact_lora_through_load_lora_weights(trained, tmp_path, caplog):
    info, base, adapter, deltas, _ = trained
    written = export_adapter(adapter, "diffusers", tmp_path)
    assert written.name == LORA_FILE
    pipe = build_pipeline(load_components(info, PARTS, "cpu"))
    pipe.load_lora_weights(tmp_path, weight_name=LORA_FILE)
    assert "No LoRA keys" not in caplog.text
    assert close(effective_deltas(pipe.transformer, base, list(deltas)), deltas) < TOL


def test_diffusers_cannot_load_the_native_loha(trained, tmp_path):
    info, base, adapter, _, _ = trained
    write_loha_lycoris(adapter, tmp_path)
    pipe = build_pipeline(load_components(info, PARTS, "cpu"))
    with pytest.raises(ValueError):
        pipe.load_lora_weights(tmp_path, weight_name=LOHA_FILE)
    assert close(effective_deltas(pipe.transformer, base, list(base)), {k: torch.zeros_like(v)
                                                                       for k, v in base.items()}) == 0


def test_the_exact_lora_has_rank_dim_squared(trained):
    _, _, adapter, deltas, _ = trained
    lora = loha_as_lora(adapter)
    for name, factors in adapter.modules.items():
        assert lora.modules[name].rank == 16
        assert torch.linalg.matrix_rank(factors.delta().detach(), rtol=1e-5).item() == min(16, *factors.delta().shape)
    assert close(lora.deltas(), deltas) < TOL


def test_refused_past_the_rank_limit_naming_the_rank_and_comfyui(trained, tmp_path, capsys):
    _, _, adapter, _, _ = trained
    with pytest.raises(RankTooLargeError, match="needs LoRA rank 16 .* the limit is 15.*--max-lora-rank 16"):
        loha_as_lora(adapter, max_rank=15)
    write_loha_lycoris(adapter, tmp_path / "loha")
    code = main(["export", "--adapter", str(tmp_path / "loha"), "--format", "acestep", "--max-lora-rank", "15",
                 "--output", str(tmp_path / "out")])
    assert code == 2
    assert "--format comfyui" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_round_trip_and_the_consumer_note(trained, tmp_path, capsys):
    _, _, adapter, deltas, _ = trained
    write_loha_lycoris(adapter, tmp_path / "loha")
    reread = load_adapter(tmp_path / "loha")
    assert reread.kind == "loha" and reread.metadata["trigger_word"] == "tok"
    assert close(reread.deltas(), deltas) < TOL
    assert main(["export", "--adapter", str(tmp_path / "loha"), "--format", "diffusers",
                 "--output", str(tmp_path / "out")]) == 0
    assert "diffusers cannot load a LoHA" in capsys.readouterr().out
    assert close(load_adapter(tmp_path / "out").deltas(), deltas) < TOL


def test_the_export_tab_says_who_cannot_load_a_loha_and_writes_the_exact_lora_there(trained, tmp_path, tiny_original):
    from app.tabs import export

    _, _, adapter, deltas, _ = trained
    said = tab_export(tmp_path, tiny_original, [tiny_original, tmp_path / "data"], partial(write_loha_lycoris, adapter))
    assert said.startswith("loha, 22 layers") and "shapes checked against" in said
    assert "acestep: wrote" in said and "ACE-Step's UI cannot load a LoHA" in said
    assert "diffusers cannot load a LoHA" in said and "pipe.load_lora_weights" in said
    assert "ComfyUI loads the LoHA itself" in said and "LoHA" in export.GUIDE
    out = tmp_path / "data" / "export"
    assert (out / "acestep" / LORA_FILE).is_file() and (out / "diffusers" / LORA_FILE).is_file()
    assert (out / "comfyui" / LOHA_FILE).is_file()
    for fmt in ("acestep", "comfyui", "diffusers"):
        assert close(load_adapter(out / fmt).deltas(), deltas) < TOL


def test_the_rank_refusal_comes_before_any_format_is_written(trained):
    """The Export tab runs check_format for every chosen format first: ComfyUI takes the LoHA at any dim."""
    from acestep_train.export.exporter import check_format

    _, _, adapter, _, _ = trained
    check_format(adapter, "comfyui", max_lora_rank=15)
    for fmt in ("acestep", "diffusers"):
        with pytest.raises(RankTooLargeError, match="needs LoRA rank 16"):
            check_format(adapter, fmt, max_lora_rank=15)
        check_format(adapter, fmt)  # 16 is within the default 256
