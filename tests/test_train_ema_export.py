"""A run's final-ema/ exported like any adapter, and loaded back by every consumer at the average's deltas:
diffusers (``load_lora_weights`` / ``load_lora_adapter``), ACE-Step's PEFT and LyCORIS loaders on the
original names, and ComfyUI's key map (``tests/export_oracles.py``)."""

from __future__ import annotations

import json

import pytest
import torch
from lycoris import LycorisNetwork, create_lycoris
from peft import PeftModel
from safetensors.torch import load_file

from acestep_train.cli import main
from acestep_train.export.load import load_adapter
from acestep_train.export.names import original_module
from acestep_train.export.probe import effective_deltas
from acestep_train.export.writers import LOKR_DIFFUSERS_FILE, LOKR_FILE, LORA_FILE
from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS
from acestep_train.train.setup import run_training
from export_oracles import comfyui_lora_deltas, comfyui_model_keys, original_decoder
from train_data import make_tensors, tiny_settings

TOL = 1e-5
KINDS = {"lora": {}, "lokr": {"adapter.type": "lokr", "adapter.linear_dim": 4, "adapter.linear_alpha": 2.0,
                             "adapter.factor": 4}}


def close(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.fixture(scope="module", params=sorted(KINDS))
def run(request, tiny_original, tmp_path_factory):
    """A tiny run of each adapter kind with the EMA on (decay 0.5), and the base linears."""
    root = tmp_path_factory.mktemp(f"ema-{request.param}")
    tensors = make_tensors(root, tiny_original, "turbo", seconds=(1.6, 2.6))
    run_training(tiny_settings(tiny_original, tensors, root / "run", **KINDS[request.param],
                               **{"loop.epochs": 3, "ema.enabled": True, "ema.decay": 0.5}))
    base = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    linears = {n: m.weight.detach().clone() for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)}
    return request.param, root / "run", linears, find_model([tiny_original], "turbo")


def exported(run_folder, fmt, out, capsys) -> dict[str, torch.Tensor]:
    """Export final-ema/ through the CLI; the average's deltas (checked to differ from final/'s)."""
    assert main(["export", "--adapter", str(run_folder / "final-ema"), "--format", fmt, "--output", str(out)]) == 0
    assert "read back and verified" in capsys.readouterr().out
    averaged, raw = load_adapter(run_folder / "final-ema").deltas(), load_adapter(run_folder / "final").deltas()
    assert close(averaged, raw) > 1e-4  # the average is not the raw adapter
    return averaged


def test_diffusers_loads_the_average(run, tmp_path, capsys, caplog):
    kind, folder, base, info = run
    deltas = exported(folder, "diffusers", tmp_path, capsys)
    if kind == "lora":
        pipe = build_pipeline(load_components(info, PARTS, "cpu"))
        pipe.load_lora_weights(tmp_path, weight_name=LORA_FILE)
        assert "No LoRA keys" not in caplog.text
        transformer = pipe.transformer
    else:
        transformer = load_components(info, ["transformer"], "cpu").transformer
        transformer.load_lora_adapter(load_file(tmp_path / LOKR_DIFFUSERS_FILE), prefix="transformer")
    assert close(effective_deltas(transformer, base, list(deltas)), deltas) < TOL


def test_acestep_loaders_load_the_average(run, tmp_path, capsys):
    kind, folder, base, _ = run
    deltas = exported(folder, "acestep", tmp_path, capsys)
    tree = original_decoder(base)
    if kind == "lora":  # ACE-Step's UI: PeftModel.from_pretrained(decoder, folder)
        model = PeftModel.from_pretrained(tree, tmp_path)
        tree = model.base_model.model
    else:  # create_lycoris on the decoder + apply_to + load the weights
        config = json.loads((tmp_path / "lokr_config.json").read_text())
        LycorisNetwork.apply_preset({"target_name": config["target_modules"], "target_module": []})
        network = create_lycoris(tree, 1.0, algo="lokr", **{k: config[k] for k in (
            "linear_dim", "linear_alpha", "factor", "decompose_both") if k in config})
        network.apply_to()
        result = network.load_state_dict(load_file(tmp_path / LOKR_FILE), strict=False)
        assert result.unexpected_keys == [] and result.missing_keys == []
    measured = effective_deltas(tree, {original_module(k): v for k, v in base.items()},
                                [original_module(k) for k in deltas])
    assert close({k: measured[original_module(k)] for k in deltas}, deltas) < TOL


def test_comfyui_maps_every_key_of_the_average(run, tmp_path, capsys):
    kind, folder, base, _ = run
    deltas = exported(folder, "comfyui", tmp_path, capsys)
    weights = load_file(tmp_path / (LORA_FILE if kind == "lora" else LOKR_FILE))
    applied = comfyui_lora_deltas(weights, comfyui_model_keys(base))
    assert close(applied, {f"diffusion_model.decoder.{original_module(k)}.weight": v for k, v in deltas.items()}) < TOL


def test_the_listening_bench_offers_the_average_as_its_own_row(run, tiny_original, tmp_path):
    import numpy as np
    import soundfile

    from acestep_train.compare.render import render_grid
    from acestep_train.compare.spec import GridSpec, PromptSpec, is_run_token, resolve_checkpoints

    _, folder, _, _ = run
    last = max(int(p.name) for p in (folder / "checkpoints").iterdir() if p.name.isdigit())
    tokens = ("final", "final-ema", "best-ema", f"{last}-ema")
    assert all(is_run_token(t) for t in tokens) and not is_run_token("my-ema")
    assert [label for label, _ in resolve_checkpoints(folder, tokens)] == [
        "final", "final-ema", "best-ema", f"step {last} ema"]
    spec = GridSpec(str(folder), (str(tiny_original),), "turbo", str(tmp_path / "grid"), ("final", "final-ema"),
                    (0.0, 1.0), (PromptSpec("warm piano", "[Verse]\nla la", 1.0),), seed=3, steps=1)
    grid = json.loads(render_grid(spec).read_text())
    assert [c["label"] for c in grid["checkpoints"]] == ["final", "final-ema"]
    cells = {c["checkpoint"]: c for c in grid["cells"]}
    assert cells["final-ema"]["loss"] is not None and cells["final-ema"]["distance"] > 0
    raw, averaged = (soundfile.read(tmp_path / "grid" / cells[k]["audio"])[0] for k in ("final", "final-ema"))
    assert np.abs(raw - averaged).max() > 1e-6  # the row plays the average, not the raw adapter
    with pytest.raises(FileNotFoundError, match="checkpoint '999-ema' not found"):
        resolve_checkpoints(folder, ["999-ema"])


def test_the_export_tab_offers_every_average_and_resume_none(run):
    from app.train_actions import run_checkpoints

    _, folder, _, _ = run
    offered = run_checkpoints(folder, resumable_only=False)
    averages = [p for p in offered if p.endswith("ema")]
    steps = sorted(p.name for p in (folder / "checkpoints").iterdir() if p.name.isdigit())
    assert averages == [str(folder / "best" / "ema"), str(folder / "final-ema"),
                        *(str(folder / "checkpoints" / s / "ema") for s in steps)]
    assert all(load_adapter(p).metadata["ema"]["updates"] >= 1 for p in averages)
    assert not any(p.endswith("ema") for p in run_checkpoints(folder, resumable_only=True))
