"""``--lokr-as-lora``: a LoKr written as its exact LoRA loads through ``pipe.load_lora_weights``."""

from __future__ import annotations

import pytest
import torch
from lycoris import LycorisNetwork, create_lycoris

from acestep_train.cli import main
from acestep_train.export.exporter import export_adapter
from acestep_train.export.load import load_adapter
from acestep_train.export.lokr_to_lora import RankTooLargeError, exact_rank, lokr_as_lora
from acestep_train.export.probe import effective_deltas
from acestep_train.export.readers import lokr_from_state
from acestep_train.export.writers import LORA_FILE, write_lokr_lycoris
from acestep_train.models import build_pipeline, find_model, load_components
from acestep_train.models.loading import PARTS

TOL = 1e-5


@pytest.fixture(scope="module")
def trained(tiny_original):
    """A decomposed LoKr (w2 = w2_a @ w2_b, dim 2) on self-attention, random non-zero weights."""
    info = find_model([tiny_original], "turbo")
    transformer = load_components(info, ["transformer"], "cpu").transformer
    names = [n for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear) and "attn" in n]
    base = {n: m.weight.detach().clone() for n, m in transformer.named_modules() if n in names}
    config = {"linear_dim": 2, "linear_alpha": 1, "factor": 4, "decompose_both": False}
    LycorisNetwork.apply_preset({"enable_conv": False, "target_module": [], "target_name": names})
    network = create_lycoris(transformer, 1.0, algo="lokr", **config)
    network.apply_to()
    torch.manual_seed(3)
    for param in network.parameters():
        param.data.normal_(std=0.3)
    adapter = lokr_from_state(network.state_dict(), config)
    return info, base, adapter, effective_deltas(transformer, base, list(adapter.modules))


def close(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_conversion_is_exact_at_the_kronecker_rank(trained):
    _, _, adapter, deltas = trained
    lora = lokr_as_lora(adapter)
    for name, factors in adapter.modules.items():
        needed, r1, r2 = exact_rank(factors)
        assert needed == r1 * r2 == torch.linalg.matrix_rank(factors.delta()).item()
        assert lora.modules[name].rank == needed
    assert close(lora.deltas(), deltas) < TOL
    assert min(d.abs().max().item() for d in deltas.values()) > 0.01


def test_pipe_load_lora_weights_applies_the_lokr_delta(trained, tmp_path, caplog):
    info, base, adapter, deltas = trained
    written = export_adapter(adapter, "diffusers", tmp_path, lokr_to_lora=True)
    assert written.name == LORA_FILE
    pipe = build_pipeline(load_components(info, PARTS, "cpu"))
    pipe.load_lora_weights(tmp_path, weight_name=LORA_FILE)  # refuses the LoKr form; takes this one
    assert "No LoRA keys" not in caplog.text
    assert close(effective_deltas(pipe.transformer, base, list(deltas)), deltas) < TOL


def test_refused_with_the_rank_it_would_need(trained, tmp_path, capsys):
    _, _, adapter, _ = trained
    needed = max(exact_rank(f)[0] for f in adapter.modules.values())
    with pytest.raises(RankTooLargeError, match=f"needs LoRA rank {needed} .* the limit is {needed - 1}"):
        lokr_as_lora(adapter, max_rank=needed - 1)
    write_lokr_lycoris(adapter, tmp_path / "lokr")
    code = main(["export", "--adapter", str(tmp_path / "lokr"), "--format", "diffusers", "--lokr-as-lora",
                 "--max-lora-rank", str(needed - 1), "--output", str(tmp_path / "out")])
    assert code == 2
    assert f"--max-lora-rank {needed}" in capsys.readouterr().err
    assert not (tmp_path / "out" / LORA_FILE).exists()


def test_cli_writes_a_lora_that_reads_back_as_the_lokr(trained, tmp_path, capsys):
    _, _, adapter, deltas = trained
    write_lokr_lycoris(adapter, tmp_path / "lokr")
    assert main(["export", "--adapter", str(tmp_path / "lokr"), "--format", "diffusers", "--lokr-as-lora",
                 "--output", str(tmp_path / "out")]) == 0
    assert "lokr written as an exact lora" in capsys.readouterr().out
    again = load_adapter(tmp_path / "out")
    assert again.kind == "lora" and close(again.deltas(), deltas) < TOL


def test_a_lora_is_not_converted(tmp_path):
    from acestep_train.export.adapter_state import Adapter, LoraFactors

    lora = Adapter("lora", {"layers.0.self_attn.to_q": LoraFactors(torch.ones(1, 4), torch.ones(4, 1), 1.0)})
    with pytest.raises(ValueError, match="converts a LoKr adapter; this one is lora"):
        export_adapter(lora, "diffusers", tmp_path, lokr_to_lora=True)
