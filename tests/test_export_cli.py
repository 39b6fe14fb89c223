"""``export`` and ``merge`` commands: any adapter in, verified files out, clear refusals."""

from __future__ import annotations

import json

import pytest
import torch
from lycoris import LycorisNetwork, create_lycoris
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import save_file

from acestep_train.cli import main
from acestep_train.export.load import load_adapter
from acestep_train.models import find_model, load_components
from acestep_train.models.discovery import describe_model
from acestep_train.models.tiny import TinySpec, write_demo_model


@pytest.fixture(scope="module")
def peft_folder(tiny_original, tmp_path_factory):
    """A PEFT folder with diffusers names, as a trainer saves it."""
    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    transformer.add_adapter(config)
    torch.manual_seed(2)
    for name, param in transformer.named_parameters():
        if "lora_" in name:
            param.data.normal_(std=0.2)
    folder = tmp_path_factory.mktemp("peft")
    save_file(get_peft_model_state_dict(transformer), folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(json.dumps(config.to_dict(), default=list))
    return folder


@pytest.fixture(scope="module")
def lokr_file(tiny_original, tmp_path_factory):
    """A bare LyCORIS LoKr file on diffusers names (another trainer's output)."""
    transformer = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    names = [n for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear) and "self_attn" in n]
    LycorisNetwork.apply_preset({"enable_conv": False, "target_module": [], "target_name": names})
    network = create_lycoris(transformer, 1.0, algo="lokr", linear_dim=2, linear_alpha=1, factor=4,
                             decompose_both=True)
    network.apply_to()
    for param in network.parameters():
        param.data.normal_(std=0.3)
    path = tmp_path_factory.mktemp("lokr") / "my_lokr.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, path)
    return path


@pytest.mark.parametrize("fmt", ["acestep", "comfyui", "diffusers"])
def test_export_lora_every_format(peft_folder, tmp_path, fmt, capsys):
    assert main(["export", "--adapter", str(peft_folder), "--format", fmt, "--output", str(tmp_path),
                 "--trigger-word", "zz_band"]) == 0
    assert "read back and verified" in capsys.readouterr().out
    with safe_open(str(tmp_path / "adapter_model.safetensors"), "pt") as handle:
        assert json.loads(handle.metadata()["acestep_studio"])["trigger_word"] == "zz_band"
    source, exported = load_adapter(peft_folder).deltas(), load_adapter(tmp_path).deltas()
    assert max((source[k] - exported[k]).abs().max().item() for k in source) < 1e-5


@pytest.mark.parametrize(("fmt", "file"), [("acestep", "lokr_weights.safetensors"),
                                           ("diffusers", "lokr_diffusers.safetensors")])
def test_export_foreign_lokr(lokr_file, tmp_path, fmt, file):
    assert main(["export", "--adapter", str(lokr_file), "--format", fmt, "--output", str(tmp_path)]) == 0
    assert (tmp_path / file).is_file()


def test_merge_command(peft_folder, tiny_original, tmp_path, capsys):
    out = tmp_path / "merged"
    assert main(["merge", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--adapter", str(peft_folder), "--strength", "0.8", "--output-dir", str(out)]) == 0
    assert "merged 16 modules" in capsys.readouterr().out  # 2 layers x (self + cross) x 4
    merged = load_components(describe_model(out, "original"), ["transformer"], "cpu").transformer
    base = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer
    assert not torch.equal(merged.layers[0].self_attn.to_q.weight, base.layers[0].self_attn.to_q.weight)
    assert torch.equal(merged.layers[0].mlp.up_proj.weight, base.layers[0].mlp.up_proj.weight)


def test_merge_refuses_wrong_base(peft_folder, tmp_path, capsys):
    write_demo_model(tmp_path / "other", "original", ("turbo",), spec=TinySpec(hidden_size=48, head_dim=24))
    code = main(["merge", "--checkpoint-dir", str(tmp_path / "other"), "--model-variant", "turbo",
                 "--adapter", str(peft_folder), "--output-dir", str(tmp_path / "out")])
    assert code == 2
    assert "the adapter was trained on another model" in capsys.readouterr().err


def test_export_refuses_a_folder_without_adapter(tmp_path, capsys):
    assert main(["export", "--adapter", str(tmp_path), "--format", "acestep", "--output", str(tmp_path / "o")]) == 2
    assert "expected adapter_model.safetensors, lokr_weights.safetensors, loha_weights.safetensors or exactly one" in capsys.readouterr().err
