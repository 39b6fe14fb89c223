"""The listening bench on the demo model: a 2 checkpoints x 3 strengths x 1 prompt grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from acestep_train.cli import main
from acestep_train.compare.choose import export_choice, mark_favourite
from acestep_train.compare.render import render_grid
from acestep_train.compare.spec import KEYWORDS, GridSpec, PromptSpec, ema_step, is_run_token, resolve_checkpoints
from acestep_train.export.exporter import read_written
from acestep_train.export.load import load_adapter
from compare_run import make_run

STRENGTHS = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def grid(tiny_original, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    run = make_run(root)
    spec = GridSpec(str(run), (str(tiny_original),), "turbo", str(root / "grid"), ("every:1",), STRENGTHS,
                    (PromptSpec("zzq warm piano", "[Verse]\nla la", 1.0),), seed=7, steps=2)
    path = render_grid(spec)
    return run, path, json.loads(path.read_text())


def audio(grid_path, relative):
    return soundfile.read(grid_path.parent / relative, dtype="float32")[0]


def test_grid_renders_every_cell(grid):
    _, path, data = grid
    assert [c["label"] for c in data["checkpoints"]] == ["step 2", "step 4"]
    assert len(data["cells"]) == 4 and all((path.parent / c["audio"]).is_file() for c in data["cells"])
    assert [c["loss"] for c in data["checkpoints"]] == [pytest.approx(0.81), pytest.approx(0.61)]
    assert [c["loss"] for c in data["cells"] if c["checkpoint"] == "step 2"] == [pytest.approx(0.81)] * 2


def test_strength_zero_is_the_base_rendered_once_and_cells_differ(grid):
    _, path, data = grid
    base = audio(path, data["base"][0])
    clips = {(c["checkpoint"], c["strength"]): audio(path, c["audio"]) for c in data["cells"]}
    assert sorted({strength for _, strength in clips}) == [0.5, 1.0] and data["strengths"] == list(STRENGTHS)
    assert sorted(p.name for p in path.parent.rglob("*.wav")) == ["base.wav", *["scale_0.5.wav"] * 2, *["scale_1.wav"] * 2]
    adapted = list(clips.values())
    assert all(np.abs(clip - base).max() > 1e-4 for clip in adapted)
    for i, a in enumerate(adapted):
        for b in adapted[i + 1:]:
            assert np.abs(a - b).max() > 1e-4


def test_distance_to_the_base_grows_with_strength(grid):
    _, _, data = grid
    for label in ("step 2", "step 4"):
        row = {c["strength"]: c["distance"] for c in data["cells"] if c["checkpoint"] == label}
        assert 0.0 < row[0.5] < row[1.0], row


def test_export_this_one_loads_at_the_chosen_strength(grid, tmp_path):
    run, path, _ = grid
    favourite = mark_favourite(path, "step 4", 0.5)
    assert json.loads(path.read_text())["favourite"]["strength"] == 0.5
    written, error = export_choice(favourite["path"], 0.5, "diffusers", tmp_path / "export")
    assert error < 1e-5
    back, source = load_adapter(tmp_path / "export"), load_adapter(run / "checkpoints" / "4")
    assert back.metadata["strength"] == 0.5
    expected, got = source.deltas(0.5), read_written(written).deltas()
    assert max((expected[k] - got[k]).abs().max().item() for k in expected) < 1e-6
    with pytest.raises(ValueError, match="no cell step 9"):
        mark_favourite(path, "step 9", 0.5)


def test_checkpoint_selection(grid, tmp_path):
    run, _, _ = grid
    labels = [label for label, _ in resolve_checkpoints(run, ["best", "every:2", "2", "4"])]
    assert labels == ["best", "step 4", "step 2"]  # best/ is its own folder; step 4 once
    assert [label for label, _ in resolve_checkpoints(run, ["every:3"])] == ["step 4"]
    with pytest.raises(FileNotFoundError, match="checkpoint '7' not found"):
        resolve_checkpoints(run, ["7"])


def test_ema_tokens_name_a_steps_average_and_nothing_else(tmp_path):
    """``N-ema`` means checkpoints/N/ema; ``my-ema`` or ``-ema`` is a folder name like any other."""
    from acestep_train.train.ema import FOLDER

    assert ema_step("400-ema") == "400" and [ema_step(t) for t in ("my-ema", "-ema", "400", "best-ema")] == [None] * 4
    assert all(is_run_token(t) for t in (*KEYWORDS, "400", "every:2", "400-ema"))
    assert not any(is_run_token(t) for t in ("my-ema", "-ema", "songs/final"))
    run = tmp_path / "run"
    for folder in (run / "checkpoints" / "400" / FOLDER, run / "best" / FOLDER, run / "final-ema", run / "final"):
        folder.mkdir(parents=True)
    assert resolve_checkpoints(run, ["400-ema", "best-ema", "final-ema", "final"]) == [
        ("step 400 ema", (run / "checkpoints" / "400" / FOLDER).resolve()), ("best-ema", (run / "best" / FOLDER).resolve()),
        ("final-ema", (run / "final-ema").resolve()), ("final", (run / "final").resolve())]


def test_cli_twin_and_export_strength(grid, tiny_original, tmp_path, capsys):
    run, _, _ = grid
    assert main(["compare", "--run", str(run), "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--checkpoints", "final", "--strengths", "0", "1", "--prompt", "zzq drums", "--duration", "1",
                 "--steps", "1", "--output", str(tmp_path / "g")]) == 0
    data = json.loads((tmp_path / "g" / "grid.json").read_text())
    assert [c["strength"] for c in data["cells"]] == [1.0] and data["base"] == ["prompt1/base.wav"]  # 0: the base
    events = [json.loads(line) for line in (tmp_path / "g" / "events.jsonl").read_text().splitlines()]
    progress = [(e["done"], e["total"], e["stage"]) for e in events if e["event"] == "progress"]
    assert progress == [(1, 2, "renders"), (2, 2, "renders")]  # the Compare tab's bar: base, then the checkpoint
    assert main(["export", "--adapter", str(run / "final"), "--format", "comfyui", "--strength", "0.75",
                 "--output", str(tmp_path / "e")]) == 0
    got, source = load_adapter(tmp_path / "e"), load_adapter(run / "final")
    assert got.metadata["strength"] == 0.75
    a, b = got.deltas(), source.deltas(0.75)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5


@pytest.mark.parametrize("decomposed", [False, True], ids=["w1", "w1_a"])
def test_lokr_at_strength_exports_and_reads_back(tmp_path, decomposed):
    import torch

    from acestep_train.export.adapter_state import Adapter, LokrFactors
    from acestep_train.export.writers import write_lokr_lycoris

    torch.manual_seed(1)
    w1 = ({"lokr_w1_a": torch.randn(4, 2), "lokr_w1_b": torch.randn(2, 4)} if decomposed
          else {"lokr_w1": torch.randn(4, 4)})
    tensors = {**w1, "lokr_w2_a": torch.randn(8, 2), "lokr_w2_b": torch.randn(2, 8)}
    adapter = Adapter("lokr", {"layers.0.self_attn.to_q": LokrFactors(tensors, 1.0)},
                      lokr_config={"linear_dim": 2, "linear_alpha": 1, "factor": 4})
    write_lokr_lycoris(adapter, tmp_path / "ckpt")
    written, error = export_choice(tmp_path / "ckpt", 0.75, "comfyui", tmp_path / "out")
    got, want = read_written(written).deltas(), adapter.deltas(0.75)
    assert error < 1e-6 and (got["layers.0.self_attn.to_q"] - want["layers.0.self_attn.to_q"]).abs().max() < 1e-6
    assert load_adapter(tmp_path / "out").metadata["strength"] == 0.75
