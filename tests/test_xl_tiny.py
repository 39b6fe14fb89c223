"""The XL models end to end on a tiny model with ACE-Step 1.5 XL's shape ratios (a DiT wider than its
condition encoder): discovery and loading, preprocessing, training with previews, export to every
consumer format and merge, all through the real code paths."""

from __future__ import annotations

import pytest
import soundfile
import torch
from safetensors.torch import load_file

from acestep_train.cli import main
from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.export.names import original_module
from acestep_train.models import find_model, load_components
from acestep_train.models.discovery import describe_model, read_json
from acestep_train.models.full_config import FULL_XL_DIT
from acestep_train.previews import adapter_applied
from acestep_train.tensors import read_sample
from acestep_train.train.setup import run_training
from export_oracles import comfyui_lora_deltas, comfyui_model_keys
from train_data import fixed_eval_loss, make_tensors, tiny_settings


def ratios(config: dict) -> dict[str, float]:
    hidden = config["hidden_size"]
    return {"dit/encoder": hidden / config["encoder_hidden_size"],
            "query/hidden": config["num_attention_heads"] * config["head_dim"] / hidden,
            "kv/hidden": config["num_key_value_heads"] * config["head_dim"] / hidden,
            "mlp/hidden": config["intermediate_size"] / hidden,
            "heads/kv": config["num_attention_heads"] / config["num_key_value_heads"]}


@pytest.fixture(scope="module")
def xl_run(tiny_xl, tmp_path_factory):
    """(tensors, run folder, loss before) of a 4-epoch LoRA run on tiny-xl-base (CFG dropout: the null
    condition of the narrower encoder) previewing every 2 epochs."""
    base = tmp_path_factory.mktemp("xl")
    tensors = make_tensors(base, tiny_xl, "xl-base", seconds=(1.6, 2.6))
    run = base / "run"
    config = tiny_settings(tiny_xl, tensors, run, model_variant="xl-base", **{
        "adapter.mlp": True, "previews.every_epochs": 2, "previews.duration": 1.0, "previews.steps": 2,
        "previews.scales": [0.0, 1.0]})
    before = fixed_eval_loss(tiny_xl, tensors, variant="xl-base")
    run_training(config)
    return tensors, run, before


def test_tiny_xl_keeps_the_xl_shape_ratios_and_loads_as_xl(tiny_xl):
    info = find_model([tiny_xl], "xl-turbo")
    assert info.variant.xl and info.variant.name == "xl-turbo"
    config = read_json(info.files.transformer_config)
    assert ratios(config) == pytest.approx(ratios(FULL_XL_DIT))
    parts = load_components(info, ["transformer", "condition_encoder"], "cpu")
    assert parts.transformer.condition_embedder.weight.shape == (40, 32)  # encoder 32 wide -> DiT 40
    assert parts.condition_encoder.null_condition_emb.shape == (1, 1, 32)
    assert len(parts.transformer.layers) == 3


def test_preprocessing_writes_the_encoders_width(xl_run):
    tensors, _, _ = xl_run
    sample = read_sample(sorted(tensors.glob("*.safetensors"))[0])
    assert sample.encoder_hidden_states.shape[-1] == 32  # the condition encoder's width, not the DiT's 40
    assert sample.target_latents.shape[-1] == 8


def test_training_lowers_the_loss_and_previews_each_strength(xl_run, tiny_xl):
    tensors, run, before = xl_run
    after = fixed_eval_loss(tiny_xl, tensors, run / "final", variant="xl-base")
    assert after < 0.9 * before
    previews = [e for e in read_events(run / "events.jsonl") if e["event"] == "samples"]
    assert len(previews) == 2
    clips = {scale: soundfile.read(path)[0] for scale, path in previews[-1]["files"].items()}
    assert set(clips) == {"0.0", "1.0"} and abs(clips["0.0"] - clips["1.0"]).max() > 1e-5


@pytest.mark.parametrize("fmt", ["acestep", "comfyui", "diffusers"])
def test_export_reaches_every_trained_layer(xl_run, tiny_xl, tmp_path, fmt):
    _, run, _ = xl_run
    assert main(["export", "--adapter", str(run / "final"), "--format", fmt, "--output", str(tmp_path)]) == 0
    trained, exported = load_adapter(run / "final").deltas(), load_adapter(tmp_path).deltas()
    assert len(trained) == 3 * (4 + 4 + 3)  # 3 layers x (self + cross attention + MLP)
    assert trained.keys() == exported.keys()
    assert max((trained[k] - exported[k]).abs().max().item() for k in trained) < 1e-5
    if fmt == "comfyui":
        base = load_components(find_model([tiny_xl], "xl-base"), ["transformer"], "cpu").transformer
        linears = {n: m.weight for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)}
        applied = comfyui_lora_deltas(load_file(tmp_path / "adapter_model.safetensors"), comfyui_model_keys(linears))
        for name, delta in trained.items():
            got = applied[f"diffusion_model.decoder.{original_module(name)}.weight"]
            assert (got - delta).abs().max().item() < 1e-5


def test_merge_equals_the_adapted_model(xl_run, tiny_xl, tmp_path):
    _, run, _ = xl_run
    out = tmp_path / "merged"
    assert main(["merge", "--checkpoint-dir", str(tiny_xl), "--model-variant", "xl-base",
                 "--adapter", str(run / "final"), "--output-dir", str(out)]) == 0
    merged = load_components(describe_model(out, "original"), ["transformer"], "cpu").transformer
    base = load_components(find_model([tiny_xl], "xl-base"), ["transformer"], "cpu").transformer
    gen = torch.Generator().manual_seed(3)
    inputs = {"hidden_states": torch.randn(1, 12, 8, generator=gen), "timestep": torch.tensor([0.6]),
              "timestep_r": torch.tensor([0.6]), "encoder_hidden_states": torch.randn(1, 5, 32, generator=gen),
              "context_latents": torch.randn(1, 12, 16, generator=gen)}
    with torch.no_grad():
        plain = base(**inputs).sample
        with adapter_applied(base, load_adapter(run / "final").deltas(), 1.0):
            adapted = base(**inputs).sample
        got = merged(**inputs).sample
    assert (got - adapted).abs().max().item() < 1e-5
    assert (plain - adapted).abs().max().item() > 1e-4  # the adapter changes the output
