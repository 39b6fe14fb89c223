"""One adapter per export folder: a manifest of what the studio wrote, no mixing, the user's files never
overwritten unasked, and an adapter of another model size refused before anything is written."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from lycoris import LycorisNetwork, create_lycoris
from peft import LoraConfig
from safetensors import safe_open
from safetensors.torch import load_file

from acestep_train.cli import main
from acestep_train.export.exporter import export_adapter
from acestep_train.export.load import load_adapter
from acestep_train.export.model_check import WrongBaseError
from acestep_train.export.names import original_module
from acestep_train.export.output_folder import MANIFEST, OutputFolderError
from acestep_train.export.probe import effective_deltas
from acestep_train.export.readers import lokr_from_state
from acestep_train.export.writers import LOKR_DIFFUSERS_FILE, LOKR_FILE, LORA_FILE
from acestep_train.models import find_model, load_components
from acestep_train.models.tiny import TinySpec, write_demo_model
from export_oracles import original_decoder, random_lora

LOKR_CONFIG = {"linear_dim": 2, "linear_alpha": 1, "factor": 4, "decompose_both": True}


def attention(model) -> dict[str, torch.Tensor]:
    return {n: m.weight.detach().clone() for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and "attn" in n}


@pytest.fixture(scope="module")
def adapters(tiny_original):
    """(model info, base attention weights, a LoRA, a LoKr), both with random non-zero weights."""
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    base = attention(transformer)
    lora = random_lora(transformer, LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"]),
                       seed=0)
    plain = load_components(info, ["transformer"], "cpu").transformer
    LycorisNetwork.apply_preset({"enable_conv": False, "target_module": [], "target_name": list(base)})
    network = create_lycoris(plain, 1.0, algo="lokr", **LOKR_CONFIG)
    network.apply_to()
    for param in network.parameters():
        param.data.normal_(std=0.3)
    lokr = lokr_from_state(network.state_dict(), dict(LOKR_CONFIG))
    for adapter in (lora, lokr):
        adapter.metadata = {"base_model": info.name, "variant": "turbo"}
    return info, base, lora, lokr


def close(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def listing(folder) -> set[str]:
    """The files a consumer sees (the hidden completion marker of a folder swapped in whole aside)."""
    return {p.name for p in folder.iterdir()} - {".studio-complete"}


def test_a_lokr_over_an_earlier_lora_export_replaces_it_whole(adapters, tmp_path):
    info, base, lora, lokr = adapters
    out = tmp_path / "export"
    export_adapter(lora, "acestep", out)
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == {LORA_FILE, "adapter_config.json", "acestep_studio.json"}
    with pytest.raises(OutputFolderError, match=r"holds an earlier export \(lora, 16 modules, trained on "):
        export_adapter(lokr, "acestep", out)  # another adapter: only with overwrite
    assert set(json.loads((out / MANIFEST).read_text())["files"]) == set(manifest["files"])  # untouched

    export_adapter(lokr, "acestep", out, overwrite=True)
    assert listing(out) == {LOKR_FILE, "lokr_config.json", "acestep_studio.json", MANIFEST}
    assert not list(tmp_path.glob("export.replaced-*"))  # nothing of the user's was there to move
    assert close(load_adapter(out).deltas(), lokr.deltas()) < 1e-5  # our reader finds the LoKr, no stale LoRA
    # ACE-Step's LoKr loader (create_lycoris on the decoder + load) applies exactly the LoKr.
    config = json.loads((out / "lokr_config.json").read_text())
    tree = original_decoder(base)
    LycorisNetwork.apply_preset({"target_name": config["target_modules"], "target_module": []})
    network = create_lycoris(tree, 1.0, algo="lokr", **LOKR_CONFIG)
    network.apply_to()
    assert network.load_state_dict(load_file(out / LOKR_FILE), strict=False).unexpected_keys == []
    measured = effective_deltas(tree, {original_module(k): v for k, v in base.items()},
                                [original_module(k) for k in lokr.modules])
    assert close({k: measured[original_module(k)] for k in lokr.modules}, lokr.deltas()) < 1e-5

    # The same LoKr again for diffusers: no overwrite needed, and exactly the earlier export's files go.
    export_adapter(lokr, "diffusers", out)
    assert listing(out) == {LOKR_DIFFUSERS_FILE, MANIFEST}
    transformer = load_components(info, ["transformer"], "cpu").transformer
    transformer.load_lora_adapter(load_file(out / LOKR_DIFFUSERS_FILE), prefix="transformer")
    assert close(effective_deltas(transformer, base, list(lokr.modules)), lokr.deltas()) < 1e-5


def test_a_folder_with_the_users_own_files_is_refused_unless_overwrite(adapters, tmp_path, capsys):
    _, _, lora, lokr = adapters
    out = tmp_path / "mine"
    export_adapter(lora, "acestep", tmp_path / "elsewhere")
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    shutil.copy(tmp_path / "elsewhere" / LORA_FILE, out / LORA_FILE)  # another tool's adapter, not in a manifest
    export_adapter(lokr, "acestep", tmp_path / "source")
    before = sorted(os.listdir(out))
    code = main(["export", "--adapter", str(tmp_path / "source"), "--format", "acestep", "--output", str(out)])
    error = capsys.readouterr().err
    assert code == 2 and f"{out}: holds files the studio did not write ({LORA_FILE}, notes.txt)" in error
    assert "--overwrite" in error and sorted(os.listdir(out)) == before

    # A file the studio wrote and the user changed since is the user's now.
    code = main(["export", "--adapter", str(tmp_path / "source"), "--format", "acestep", "--output", str(out),
                 "--overwrite"])
    printed = capsys.readouterr().out
    assert code == 0 and "moved 2 file(s) the studio did not write to" in printed
    backup = next(tmp_path.glob("mine.replaced-*"))
    assert listing(backup) == {LORA_FILE, "notes.txt"} and (backup / "notes.txt").read_text() == "my notes"
    assert listing(out) == {LOKR_FILE, "lokr_config.json", "acestep_studio.json", MANIFEST}
    (out / "lokr_config.json").write_text("{}")
    with pytest.raises(OutputFolderError, match=r"did not write \(lokr_config.json\)"):
        export_adapter(lokr, "acestep", out)


def test_output_naming_a_file_is_a_clear_error(adapters, tiny_original, tmp_path, capsys):
    _, _, lora, _ = adapters
    export_adapter(lora, "acestep", tmp_path / "source")
    (tmp_path / "file.safetensors").write_bytes(b"x")
    for command in (["export", "--adapter", str(tmp_path / "source"), "--format", "comfyui", "--output"],
                    ["merge", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--adapter",
                     str(tmp_path / "source"), "--output-dir"]):
        assert main([*command, str(tmp_path / "file.safetensors")]) == 2
        error = capsys.readouterr().err
        assert "file.safetensors: is a file, not a folder" in error and "Traceback" not in error
    assert (tmp_path / "file.safetensors").read_bytes() == b"x"


@pytest.fixture(scope="module")
def wider(tmp_path_factory):
    """A tiny model of another size (hidden 48 instead of 32)."""
    root = tmp_path_factory.mktemp("wider")
    write_demo_model(root, "original", ("turbo",), spec=TinySpec(hidden_size=48, head_dim=24))
    return root


def test_an_adapter_of_another_model_size_is_refused_before_writing(adapters, wider, tmp_path, capsys):
    info, _, lora, _ = adapters
    export_adapter(lora, "acestep", tmp_path / "run" / "final")
    other = find_model([wider], "turbo")
    with pytest.raises(WrongBaseError, match="trained on another model \\(hidden size 32; .* has hidden size 48\\)"):
        export_adapter(lora, "acestep", tmp_path / "out", model=other)
    assert not (tmp_path / "out").exists()
    # From the command line: --checkpoint-dir and the base model the metadata names.
    code = main(["export", "--adapter", str(tmp_path / "run" / "final"), "--format", "acestep", "--output",
                 str(tmp_path / "out"), "--checkpoint-dir", str(wider)])
    assert code == 2 and "hidden size 32" in capsys.readouterr().err and not (tmp_path / "out").exists()
    # Without --checkpoint-dir: the model the run recorded in run.json.
    (tmp_path / "run" / "run.json").write_text(json.dumps({"model": {"path": str(other.path)}}))
    assert main(["export", "--adapter", str(tmp_path / "run" / "final"), "--format", "acestep", "--output",
                 str(tmp_path / "out")]) == 2
    assert "has hidden size 48" in capsys.readouterr().err and not (tmp_path / "out").exists()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"model": {"path": str(info.path)}}))
    assert main(["export", "--adapter", str(tmp_path / "run" / "final"), "--format", "acestep", "--output",
                 str(tmp_path / "out")]) == 0
    assert f"shapes fit {info.name}" in capsys.readouterr().out


def test_every_kind_knows_the_shape_it_changes_without_building_its_delta():
    """``check_shapes`` reads ``factors.shape``: the delta's (out, in) for each kind; non-square, so a swap shows."""
    from acestep_train.export.adapter_state import LokrFactors, LoraFactors
    from acestep_train.export.dora import DoraFactors
    from acestep_train.export.loha import LohaFactors

    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    lora = LoraFactors(rand(3, 10), rand(6, 3), 2.0)
    kinds = {
        "lora": lora,
        "lokr full": LokrFactors({"lokr_w1": rand(2, 5), "lokr_w2": rand(3, 2)}, 1.0),
        "lokr decomposed": LokrFactors({"lokr_w1_a": rand(2, 1), "lokr_w1_b": rand(1, 5), "lokr_w2_a": rand(3, 1),
                                        "lokr_w2_b": rand(1, 2)}, 1.0),
        "lokr w2 decomposed": LokrFactors({"lokr_w1": rand(2, 5), "lokr_w2_a": rand(3, 1), "lokr_w2_b": rand(1, 2)},
                                          1.0),
        "loha": LohaFactors({"hada_w1_a": rand(6, 2), "hada_w1_b": rand(2, 10), "hada_w2_a": rand(6, 2),
                             "hada_w2_b": rand(2, 10)}, 1.0),
    }
    for kind, factors in kinds.items():
        assert factors.shape == tuple(factors.delta().shape) == (6, 10), kind
    dora = DoraFactors(lora, rand(6))
    assert dora.shape == tuple(dora.delta_on(rand(6, 10)).shape) == (6, 10)


def test_merge_output_follows_the_same_rules(adapters, tiny_original, tmp_path, capsys):
    info, _, lora, lokr = adapters
    export_adapter(lora, "acestep", tmp_path / "a")
    export_adapter(lokr, "acestep", tmp_path / "b")
    merged = tmp_path / "merged"
    args = ["merge", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--output-dir", str(merged)]
    assert main([*args, "--adapter", str(tmp_path / "a")]) == 0
    assert set(json.loads((merged / MANIFEST).read_text())["files"]) == {
        "config.json", "model.safetensors", "silence_latent.pt", "merge_info.json"}
    assert main([*args, "--adapter", str(tmp_path / "a")]) == 0  # the same merge again: allowed
    capsys.readouterr()
    assert main([*args, "--adapter", str(tmp_path / "b")]) == 2
    assert f"{merged}: holds an earlier merged model (lora, 16 modules, trained on {info.name}" in capsys.readouterr().err
    assert json.loads((merged / "merge_info.json").read_text())["adapter"] == lora.metadata
    assert main([*args, "--adapter", str(tmp_path / "b"), "--overwrite"]) == 0
    with safe_open(str(merged / "model.safetensors"), "pt") as handle:
        assert handle.keys()
    assert json.loads((merged / "merge_info.json").read_text())["merged_modules"] == len(lokr.modules)


def test_format_subfolders_of_an_earlier_export_are_left_alone(adapters, tmp_path):
    _, _, lora, lokr = adapters
    out = tmp_path / "exports"
    export_adapter(lora, "acestep", out)
    for fmt in ("diffusers", "comfyui"):  # the Export tab with several formats: one sub-folder each
        export_adapter(lokr, fmt, out / fmt)
    export_adapter(lora, "comfyui", out)  # the same LoRA again at the top: allowed, the sub-folders untouched
    assert listing(out) == {LORA_FILE, "adapter_config.json", "acestep_studio.json", MANIFEST, "diffusers", "comfyui"}
    assert listing(out / "diffusers") == {LOKR_DIFFUSERS_FILE, MANIFEST}
    assert listing(out / "comfyui") == {LOKR_FILE, "lokr_config.json", "acestep_studio.json", MANIFEST}
