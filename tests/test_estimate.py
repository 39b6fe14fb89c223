"""Gradient sensitivity: a ranked table and a JSON that a training run consumes."""

from __future__ import annotations

import json

from acestep_train.cli import main
from acestep_train.export.load import load_adapter
from train_data import make_tensors


def test_estimate_then_train_from_it(tiny_original, tmp_path, capsys):
    tensors = make_tensors(tmp_path, tiny_original, "turbo", seconds=(1.6, 2.6))
    out = tmp_path / "estimate.json"
    assert main(["estimate", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--dataset-dir",
                 str(tensors), "--output", str(out), "--batches", "2", "--max-latent-length", "30",
                 "--top-fraction", "0.25", "--base-rank", "4"]) == 0
    assert "layers selected" in capsys.readouterr().out
    result = json.loads(out.read_text())
    scores = [m["score"] for m in result["modules"]]
    assert len(scores) == 2 * (8 + 3) and scores == sorted(scores, reverse=True) and scores[0] > 0
    assert set(result["modules"][0]["by_focus"]) == {"noisy", "middle", "clean"}
    targets = result["targets"]
    assert len(targets) == 6 and targets == [m["name"] for m in result["modules"][:6]]
    assert main(["train", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--dataset-dir",
                 str(tensors), "--output-dir", str(tmp_path / "run"), "--epochs", "1", "--max-latent-length", "30",
                 "--from-estimate", str(out)]) == 0
    adapter = load_adapter(tmp_path / "run" / "final")
    assert sorted(adapter.modules) == sorted(targets)
    assert result["rank_pattern"]  # scores differ, so ranks differ from the base
    for name, rank in result["rank_pattern"].items():
        assert adapter.modules[name].rank == rank
