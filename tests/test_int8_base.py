"""8-bit frozen base weights (bitsandbytes ``Linear8bitLt``, which runs on the CPU in bitsandbytes 0.50):
training still learns, previews render at every strength, the base's loss moves by a small stated
amount, and every export is in exactly the format of a full-precision-base run."""

from __future__ import annotations

import json

import bitsandbytes as bnb
import pytest
import torch
from safetensors import safe_open

from acestep_train.cli import main
from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.models import find_model, load_components
from acestep_train.train.int8 import int8_bytes, layer_linears, quantize_base
from acestep_train.train.setup import run_training
from train_data import fixed_eval_loss, make_tensors, tiny_settings

INT8_LOSS_TOLERANCE = 0.02  # the tiny base's fixed-noise loss moves by less than 2 % in int8


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("int8-data"), tiny_original, "turbo", seconds=(1.6, 2.6))


def train(tiny_original, tensors, out, adapter: str, base: str):
    extra = {"adapter.type": adapter, "adapter.linear_dim": 4, "adapter.linear_alpha": 4.0, "loop.base_weights": base,
             "adapter.mlp": True, "previews.every_epochs": 4, "previews.duration": 1.0, "previews.steps": 2,
             "previews.scales": [0.0, 1.0]}
    run_training(tiny_settings(tiny_original, tensors, out, **extra))
    return out


@pytest.fixture(scope="module")
def runs(tiny_original, tensors, tmp_path_factory):
    """{(adapter, base): run folder} for LoRA and LoKr, each on a full-precision and an int8 base."""
    root = tmp_path_factory.mktemp("int8-runs")
    return {(a, b): train(tiny_original, tensors, root / f"{a}-{b}", a, b)
            for a in ("lora", "lokr") for b in ("full", "int8")}


def int8_eval_loss(tiny_original, tensors) -> float:
    """``fixed_eval_loss`` of the base with its layers' linears in int8."""
    from acestep_train.models import load_components as real_load

    def quantized(info, parts, device):
        loaded = real_load(info, parts, device)
        quantize_base(loaded.transformer, device)
        return loaded

    import train_data

    original, train_data.load_components = train_data.load_components, quantized
    try:
        return fixed_eval_loss(tiny_original, tensors)
    finally:
        train_data.load_components = original


def test_quantize_base_stores_one_byte_per_layer_weight(tiny_original):
    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    linears = layer_linears(transformer)
    weights = sum(linear.weight.numel() for _, _, linear in linears)
    rows = sum(linear.out_features for _, _, linear in linears)
    assert quantize_base(transformer, "cpu") == len(linears) == 2 * (4 + 4 + 3)
    assert int8_bytes(transformer) == weights + 4 * rows  # what the planner counts
    assert isinstance(transformer.layers[0].self_attn.to_q, bnb.nn.Linear8bitLt)
    assert transformer.layers[0].self_attn.to_q.weight.dtype == torch.int8
    assert transformer.proj_in_conv.weight.dtype == torch.float32  # outside the layers: untouched


def test_the_int8_base_costs_little_on_the_tiny_model(tiny_original, tensors):
    full, int8 = fixed_eval_loss(tiny_original, tensors), int8_eval_loss(tiny_original, tensors)
    relative = abs(int8 - full) / full
    print(f"tiny base loss: fp32 {full:.5f}, int8 {int8:.5f}, relative change {relative:.4%}")
    assert 0 < relative < INT8_LOSS_TOLERANCE


@pytest.mark.parametrize("adapter", ["lora", "lokr"])
def test_training_on_an_int8_base_lowers_the_loss_and_previews(runs, tiny_original, tensors, adapter):
    run = runs[(adapter, "int8")]
    before = int8_eval_loss(tiny_original, tensors)
    after = fixed_eval_loss(tiny_original, tensors, run / "final")  # played on the full-precision base
    assert after < 0.97 * before
    on_full = fixed_eval_loss(tiny_original, tensors, runs[(adapter, "full")] / "final")
    assert abs(after - on_full) / on_full < 0.02  # as good as the same run on a full-precision base
    record = json.loads((run / "run.json").read_text())
    assert record["config"]["loop"]["base_weights"] == "int8"
    previews = [e for e in read_events(run / "events.jsonl") if e["event"] == "samples"]
    assert previews and set(previews[-1]["files"]) == {"0.0", "1.0"}
    estimate = next(e for e in read_events(run / "events.jsonl") if e["event"] == "vram_estimate")
    full = next(e for e in read_events(runs[(adapter, "full")] / "events.jsonl") if e["event"] == "vram_estimate")
    assert estimate["weights"] <= full["weights"]


def file_format(folder) -> dict:
    """Every file's tensors as {key: (shape, dtype)} and its metadata's keys (values differ run to run)."""
    described = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            with safe_open(str(path), "pt") as handle:
                tensors = {k: (tuple(handle.get_slice(k).get_shape()), handle.get_slice(k).get_dtype())
                           for k in handle.keys()}
                meta = {k: sorted(json.loads(v)) if v.startswith("{") else "text"
                        for k, v in (handle.metadata() or {}).items()}
            described[path.name] = (tensors, meta)
        elif path.suffix == ".json":
            described[path.name] = sorted(json.loads(path.read_text()))
    return described


@pytest.mark.parametrize("adapter", ["lora", "lokr"])
def test_exports_have_the_full_precision_runs_format(runs, tmp_path, adapter):
    full, int8 = runs[(adapter, "full")] / "final", runs[(adapter, "int8")] / "final"
    assert file_format(full) == file_format(int8)
    for fmt in ("acestep", "comfyui", "diffusers"):
        outs = {}
        for base, folder in (("full", full), ("int8", int8)):
            outs[base] = tmp_path / f"{fmt}-{base}"
            assert main(["export", "--adapter", str(folder), "--format", fmt, "--output", str(outs[base])]) == 0
        assert file_format(outs["full"]) == file_format(outs["int8"]), fmt
    assert load_adapter(int8).deltas().keys() == load_adapter(full).deltas().keys()


def test_a_dora_on_an_int8_base_is_computed_on_the_real_weights(tiny_original):
    """A DoRA's deltas depend on the base weight (its row norms): on an int8 base they are taken from the
    dequantized weight, never from the raw codes (127 times too large)."""
    from acestep_train.train.adapters import Adapter
    from acestep_train.train.config import AdapterConfig

    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    before = {f"layers.0.self_attn.{name}": getattr(transformer.layers[0].self_attn, name).weight.detach().clone()
              for name in ("to_q", "to_k")}
    quantize_base(transformer, "cpu")
    adapter = Adapter(transformer, AdapterConfig(type="dora", rank=4, alpha=4.0, targets="self"))
    for forwarded in (False, True):  # the first forward moves the row scales from the weight to the module's state
        if forwarded:
            for module in transformer.modules():
                if isinstance(module, bnb.nn.Linear8bitLt):
                    module.init_8bit_state()
        weights = adapter.base_weights()
        for name, original in before.items():
            assert weights[name].dtype.is_floating_point
            assert (weights[name] - original).abs().max() < 0.02 * original.abs().max(), (name, forwarded)
    assert all(delta.abs().max() < 1.0 for delta in adapter.deltas().values())  # a new DoRA: near zero
