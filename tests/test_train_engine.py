"""The training engine on the tiny model: it learns, resumes exactly, and fails loudly."""

from __future__ import annotations

import json

import pytest
import torch

from acestep_train.cli import main
from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.models import find_model, load_components
from acestep_train.train.setup import run_training
from acestep_train.train.trainer import TrainingError
from train_data import fixed_eval_loss, make_tensors, tiny_settings, step_events


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("train"), tiny_original, "turbo", seconds=(1.6, 2.6))


def settings(tiny_original, tensors, output, **overrides):
    return tiny_settings(tiny_original, tensors, output, **overrides)


@pytest.mark.parametrize("kind", ["lora", "lokr"])
def test_loss_falls_and_only_the_adapter_changes(tiny_original, tensors, tmp_path, kind):
    extra = {"adapter.type": kind, "adapter.linear_dim": 4, "adapter.linear_alpha": 4.0, "loop.epochs": 12}
    result = run_training(settings(tiny_original, tensors, tmp_path, **extra))
    assert result["steps"] == 24 and (tmp_path / "final").is_dir()
    before, after = fixed_eval_loss(tiny_original, tensors), fixed_eval_loss(tiny_original, tensors, tmp_path / "final")
    assert after < 0.9 * before, (before, after)
    base = load_components(find_model([tiny_original], "turbo"), ["transformer"], "cpu").transformer.state_dict()
    # The base checkpoint on disk is untouched and the adapter folder holds only adapter tensors.
    names = load_adapter(tmp_path / "final").modules
    assert names and all(name.startswith("layers.") for name in names)
    assert all(torch.isfinite(v).all() for v in base.values())


def test_exact_resume_is_bitwise(tiny_original, tensors, tmp_path):
    common = {"loop.epochs": 4, "data.batch_size": 1, "schedule.name": "cosine", "schedule.warmup_steps": 2,
              "adapter.dropout": 0.1}
    whole = run_training(settings(tiny_original, tensors, tmp_path / "whole", **common))
    half = run_training(settings(tiny_original, tensors, tmp_path / "half", **{**common, "loop.epochs": 4},
                                 **{"checkpoint.save_every_steps": 4, "checkpoint.save_every_epochs": 0,
                                    "checkpoint.keep_last": 10}))
    assert whole["steps"] == half["steps"] == 8
    resumed = run_training(settings(tiny_original, tensors, tmp_path / "resumed", **common,
                                    resume_from=str(tmp_path / "half" / "checkpoints" / "4")))
    assert resumed["steps"] == 8
    a = load_adapter(tmp_path / "whole" / "checkpoints" / "8").modules
    b = load_adapter(tmp_path / "resumed" / "checkpoints" / "8").modules
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k].down, b[k].down) and torch.equal(a[k].up, b[k].up) for k in a)
    first_resumed = step_events(tmp_path / "resumed")[0]
    assert first_resumed["step"] == 5
    assert first_resumed["loss"] == step_events(tmp_path / "whole")[4]["loss"]


def test_resume_refuses_a_checkpoint_of_another_adapter(tiny_original, tensors, tmp_path):
    run_training(settings(tiny_original, tensors, tmp_path / "r4", **{"loop.epochs": 1}))
    with pytest.raises(ValueError, match="adapter keys do not match this run"):
        run_training(settings(tiny_original, tensors, tmp_path / "x", **{"adapter.targets": "self"},
                              resume_from=str(tmp_path / "r4" / "checkpoints" / "2")))


def test_total_steps_and_schedule_endpoints(tiny_original, tensors, tmp_path):
    # 2 songs x 3 repeats = 6 windows, batch 2 -> 3 micro-batches, accum 2 -> 2 steps per epoch (1 partial)
    run_training(settings(tiny_original, tensors, tmp_path, **{
        "data.repeats": 3, "data.batch_size": 2, "data.grad_accum": 2, "loop.epochs": 3, "schedule.name": "cosine",
        "schedule.warmup_steps": 1}))
    logged = step_events(tmp_path)
    assert [e["step"] for e in logged] == [1, 2, 3, 4, 5, 6]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["resolved"]["total_steps"] == 6 and run["resolved"]["steps_per_epoch"] == 2
    assert logged[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine ends at 0 on the last step
    assert logged[0]["lr"] == pytest.approx(5e-3)  # after 1 warmup step: full lr


def test_batch_larger_than_dataset_still_trains(tiny_original, tensors, tmp_path):
    result = run_training(settings(tiny_original, tensors, tmp_path, **{"data.batch_size": 8, "loop.epochs": 2}))
    assert result["steps"] == 2


def test_early_stop_keeps_the_best(tiny_original, tensors, tmp_path):
    result = run_training(settings(tiny_original, tensors, tmp_path, **{
        "optim.lr": 1e-9, "loop.epochs": 20, "best.patience": 2, "best.min_delta": 1.0, "best.window": 1}))
    assert result["epochs"] == 3 and result["best_epoch"] == 0 and result["final_from"] == "best"
    assert any(e["event"] == "early_stop" for e in read_events(tmp_path / "events.jsonl"))
    best = json.loads((tmp_path / "best" / "acestep_studio.json").read_text())
    assert best["epoch"] == 0 and (tmp_path / "final" / "adapter_model.safetensors").is_file()


def test_nan_guard_stops_the_run(tiny_original, tensors, tmp_path):
    with pytest.raises(TrainingError, match="3 non-finite losses in a row"):
        run_training(settings(tiny_original, tensors, tmp_path, **{"optim.lr": 1e30, "loop.nan_patience": 3,
                                                                    "loop.epochs": 30, "optim.grad_clip": 0.0}))
    assert any(e["event"] == "nan" for e in read_events(tmp_path / "events.jsonl"))


def test_manifest_of_another_model_is_refused(tiny_original, tensors, tmp_path):
    from acestep_train.models.tiny import write_demo_model

    write_demo_model(tmp_path / "other", "original", ("turbo",), seed=5)
    config = settings(tiny_original, tensors, tmp_path / "o", checkpoint_dirs=[str(tmp_path / "other")])
    with pytest.raises(ValueError, match="these tensors were made with model"):
        run_training(config)


@pytest.mark.parametrize("optimizer", ["adamw8bit", "adafactor", "prodigy"])
def test_other_optimizers_train(tiny_original, tensors, tmp_path, optimizer):
    lr = 1.0 if optimizer == "prodigy" else 5e-3
    result = run_training(settings(tiny_original, tensors, tmp_path, **{"optim.name": optimizer, "optim.lr": lr,
                                                                        "loop.epochs": 2}))
    assert result["steps"] == 4


def test_stop_request_saves_a_resumable_checkpoint(tiny_original, tensors, tmp_path):
    (tmp_path / "control").mkdir(parents=True)
    (tmp_path / "control" / "stop").touch()
    result = run_training(settings(tiny_original, tensors, tmp_path))
    assert result["stopped"] and result["steps"] == 1
    assert (tmp_path / "checkpoints" / "1" / "trainer_state.pt").is_file()
    again = run_training(settings(tiny_original, tensors, tmp_path / "more",
                                  resume_from=str(tmp_path / "checkpoints" / "1")))
    assert again["steps"] == 8


def test_cli_flags_override_the_config_file(tiny_original, tensors, tmp_path, capsys):
    (tmp_path / "cfg.json").write_text(json.dumps({"optim": {"lr": 0.5}, "loop": {"epochs": 9}}))
    code = main(["train", "--config", str(tmp_path / "cfg.json"), "--checkpoint-dir", str(tiny_original),
                 "--model-variant", "turbo", "--dataset-dir", str(tensors), "--output-dir", str(tmp_path / "o"),
                 "--epochs", "1", "--lr", "0.001", "--max-latent-length", "30"])
    assert code == 0 and "trained 2 steps (1 full epoch)" in capsys.readouterr().out
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["config"]["optim"]["lr"] == 0.001 and run["config"]["loop"]["epochs"] == 1
    assert run["resolved"]["flow"]["sampler"] == "table" and run["resolved"]["flow"]["cfg_dropout"] == 0.0
    assert main(["train", "--config", str(tmp_path / "cfg.json"), "--checkpoint-dir", str(tiny_original),
                 "--dataset-dir", str(tensors), "--output-dir", str(tmp_path / "p"), "--lr", "-1"]) == 2
    assert "optim.lr must be > 0" in capsys.readouterr().err
