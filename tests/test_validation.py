"""Validation loss on held-out songs (tiny model, real training): the split, the numbers, best and early stop."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch

from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.tensors import Manifest
from acestep_train.train import data as data_mod
from acestep_train.train.config import DataConfig, ValidationConfig, config_from_dict
from acestep_train.train.holdout import choose_split
from acestep_train.train.precision import resolve_precision
from acestep_train.train.samples import adapter_off
from acestep_train.train.setup import build_parts, make_fabric, run_training
from acestep_train.train.trainer import Trainer
from acestep_train.train.validation_step import precise_forward
from train_data import make_tensors, tiny_settings

REPO = Path(__file__).resolve().parents[1]
HELD = "song2"  # the held-out song of the runs below (sample id; its audio file is song2.wav)


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("validation"), tiny_original, "turbo", seconds=(1.6, 2.6, 3.6))


def events(output, kind):
    return [e for e in read_events(output / "events.jsonl") if e["event"] == kind]


def manifest(samples: dict) -> Manifest:
    return Manifest("fp", "tiny", "turbo", 64, {}, samples)


FILES = {f"s{i}": {"file": f"s{i}.safetensors", "source": f"/songs/track {i}.wav", "frames": 100} for i in range(5)}


def test_split_marked_listed_drawn_and_refused():
    files = [entry["file"] for entry in FILES.values()]
    assert choose_split(files, manifest(FILES), ValidationConfig()).held_out == ()  # off: every song trains
    marked = {**FILES, "s1": {**FILES["s1"], "holdout": True}}
    split = choose_split(files, manifest(marked), ValidationConfig(every_steps=5, songs=["track 3"]))
    assert split.held_out == ("s1.safetensors", "s3.safetensors") and split.how == "marked+listed"
    assert set(split.train) == set(files) - set(split.held_out)
    drawn = choose_split(files, manifest(FILES), ValidationConfig(every_steps=5, fraction=0.05, seed=3))
    assert len(drawn.held_out) == 1 and drawn.how == "fraction"  # at least one song
    assert drawn == choose_split(files, manifest(FILES), ValidationConfig(every_steps=5, fraction=0.05, seed=3))
    with pytest.raises(ValueError, match="validation.songs: 'nope' is not a song"):
        choose_split(files, manifest(FILES), ValidationConfig(every_steps=5, songs=["nope"]))
    with pytest.raises(ValueError, match="no song is held out"):
        choose_split(files, manifest(FILES), ValidationConfig(every_steps=5))
    with pytest.raises(ValueError, match="at least 2 songs"):
        choose_split(files[:1], manifest(FILES), ValidationConfig(every_steps=5, fraction=0.5))
    with pytest.raises(ValueError, match="all 2 songs are held out"):
        choose_split(files[:2], manifest(FILES), ValidationConfig(every_steps=5, songs=["s0", "s1"]))


@pytest.mark.parametrize("values, message", [
    ({"crops": "2"}, "validation.crops must be an integer, got '2'"),
    ({"fraction": 1.0}, r"validation.fraction must be in \[0, 1\)"),
    ({"timesteps": 0}, "validation.timesteps must be between 1 and 64"),
    ({"every_steps": True}, "validation.every_steps must be an integer"),
    ({"songs": "song2"}, "validation.songs must be a list"),
    ({"batch": 1}, "unknown setting 'validation.batch'"),
])
def test_config_errors_name_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict({"checkpoint_dirs": ["m"], "dataset_dir": "d", "output_dir": "o", "validation": values})


@pytest.mark.parametrize("world", [1, 2, 3])
def test_held_out_song_is_in_no_rank_batch(world):
    """Every rank's batches, every epoch, with repeats: only the training songs (what the trainer passes)."""
    frames = {"a": 300, "b": 90, "c": 500}
    split = choose_split(sorted(frames), manifest({k: {"file": k} for k in frames}),
                         ValidationConfig(every_steps=1, songs=["c"]))
    train = {f: frames[f] for f in split.train}
    seen = {w.file for epoch in range(4) for rank in range(world)
            for _, batch in data_mod.rank_batches(train, 64, DataConfig(batch_size=2, repeats=3), 7, epoch, world,
                                                  rank)[0]
            for w in batch}
    assert seen == {"a", "b"}


def test_held_out_song_never_reaches_a_training_batch(tiny_original, tensors, tmp_path, monkeypatch):
    collated = []
    real = data_mod.collate
    monkeypatch.setattr(data_mod, "collate", lambda folder, windows: collated.append(windows) or real(folder, windows))
    run_training(tiny_settings(tiny_original, tensors, tmp_path, **{
        "validation.every_steps": 2, "validation.songs": [HELD], "data.repeats": 2, "loop.epochs": 2}))
    held = f"{HELD}.safetensors"
    probes = [windows for windows in collated if any(w.file == held for w in windows)]
    assert probes and all(len(windows) == 1 for windows in probes)  # the validator's fixed crops, alone
    assert len(probes) == len({windows[0] for windows in probes})  # each read once, before training
    trained = [windows for windows in collated if windows not in probes]
    assert len(trained) == 8  # 2 songs x 2 repeats x 2 epochs, batch 1
    assert {w.file for windows in trained for w in windows} == {"song0.safetensors", "song1.safetensors"}
    assert len(events(tmp_path, "validation")) == 4  # every 2nd of 8 steps
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["resolved"]["split"]["held_out"] == [f"{HELD}.safetensors"]


def copy_without(tensors, tmp_path, sample_id: str):
    """The tensor folder less one song (the same tensors otherwise)."""
    folder = tmp_path / "tensors-less"
    shutil.copytree(tensors, folder)
    data = json.loads((folder / "manifest.json").read_text())
    (folder / data["samples"].pop(sample_id)["file"]).unlink()
    (folder / "manifest.json").write_text(json.dumps(data))
    return folder


def test_training_is_identical_with_validation_on_or_off(tiny_original, tensors, tmp_path):
    common = {"loop.epochs": 3, "adapter.dropout": 0.1, "schedule.name": "cosine"}  # dropout draws from torch's RNG
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "on", **common,
                               **{"validation.every_steps": 1, "validation.songs": [HELD]}))
    run_training(tiny_settings(tiny_original, copy_without(tensors, tmp_path, HELD), tmp_path / "off", **common))
    on, off = events(tmp_path / "on", "step"), events(tmp_path / "off", "step")
    assert len(on) == len(off) == 6 and len(events(tmp_path / "on", "validation")) == 6
    assert [e["loss"] for e in on] == [e["loss"] for e in off]
    a, b = load_adapter(tmp_path / "on" / "checkpoints" / "6").modules, load_adapter(tmp_path / "off" / "checkpoints" / "6").modules
    assert all(torch.equal(a[k].down, b[k].down) and torch.equal(a[k].up, b[k].up) for k in a)


def test_validation_that_would_never_run_is_refused_before_training(tiny_original, tensors, tmp_path):
    settings = tiny_settings(tiny_original, tensors, tmp_path / "late", **{"loop.epochs": 1,
                             "validation.every_steps": 5, "validation.songs": [HELD]})  # 2 songs: 2 steps
    with pytest.raises(ValueError, match="validation.every_steps is 5 but this run has 2 optimizer steps"):
        run_training(settings)
    assert not (tmp_path / "late" / "checkpoints").exists()  # nothing trained


def trainer_at(config):
    precision = resolve_precision(config.loop.precision, config.loop.accelerator)
    fabric = make_fabric(config.loop, Path(config.output_dir), precision)
    fabric.launch()
    return Trainer(config, fabric, build_parts(config, fabric, precision))


def test_validation_loss_is_bit_identical_twice_and_across_a_resume(tiny_original, tensors, tmp_path):
    common = {"adapter.dropout": 0.1, "validation.every_steps": 2, "validation.songs": [HELD],
              "validation.crops": 2, "validation.timesteps": 3, "checkpoint.save_every_steps": 2,
              "checkpoint.keep_last": 10, "loop.epochs": 3}
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "whole", **common))
    logged = {e["step"]: e for e in events(tmp_path / "whole", "validation")}
    assert sorted(logged) == [2, 4, 6] and len({e["loss"] for e in logged.values()}) == 3
    assert len({e["base_loss"] for e in logged.values()}) == 1 and logged[2]["passes"] == 2 * 6
    # The weights of checkpoint 4, loaded into a fresh trainer: the same number as the run logged, twice over.
    trainer = trainer_at(tiny_settings(tiny_original, tensors, tmp_path / "again", **common,
                                       resume_from=str(tmp_path / "whole" / "checkpoints" / "4")))
    evaluate = partial(trainer.validator.evaluate, partial(precise_forward, trainer.fabric, trainer.model), trainer.model, partial(adapter_off, trainer.adapter))
    first, second = evaluate(), evaluate()
    assert first.loss == second.loss == logged[4]["loss"]
    assert first.base_loss == logged[4]["base_loss"] and second.passes == 6  # the base is computed once
    assert trainer.model.training  # train mode is back after each evaluation
    # A run resumed from checkpoint 2 logs the same validation losses as the whole run.
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "resumed", **common,
                               resume_from=str(tmp_path / "whole" / "checkpoints" / "2")))
    resumed = {e["step"]: e["loss"] for e in events(tmp_path / "resumed", "validation")}
    assert resumed == {4: logged[4]["loss"], 6: logged[6]["loss"]}


def test_best_follows_the_validation_loss_and_early_stop_uses_it(tiny_original, tensors, tmp_path):
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "best", **{
        "validation.every_steps": 1, "validation.songs": [HELD], "optim.lr": 0.05, "loop.epochs": 4,
        "best.min_delta": 0.0, "checkpoint.save_every_steps": 1, "checkpoint.keep_last": 100}))
    probes = events(tmp_path / "best", "validation")
    lowest = min(probes, key=lambda e: e["loss"])
    saved = json.loads((tmp_path / "best" / "best" / "acestep_studio.json").read_text())
    assert saved["step"] == lowest["step"] and saved["validation_loss"] == lowest["loss"]
    best, same_step = load_adapter(tmp_path / "best" / "best").modules, \
        load_adapter(tmp_path / "best" / "checkpoints" / str(lowest["step"])).modules
    assert all(torch.equal(best[k].up, same_step[k].up) for k in best)
    assert [e["step"] for e in probes if e["new_best"]][-1] == lowest["step"]
    finished = events(tmp_path / "best", "finished")[-1]
    assert finished["validation"]["best_loss"] == lowest["loss"] and finished["validation"]["evaluations"] == 8
    assert finished["validation"]["fraction_of_step"] > 0
    # Early stop: no evaluation can beat the first by 10, so patience 2 stops at the third.
    result = run_training(tiny_settings(tiny_original, tensors, tmp_path / "stop", **{
        "validation.every_steps": 1, "validation.songs": [HELD], "best.min_delta": 10.0, "best.patience": 2}))
    assert result["stopped"] and result["steps"] == 3
    assert "no new best validation loss for 2 evaluations" in events(tmp_path / "stop", "early_stop")[0]["message"]


def test_ddp_and_cli_flags_rank_zero_evaluates_every_rank_stops(tiny_original, tensors, tmp_path):
    """Two DDP processes from the CLI's own flags: rank 0 evaluates, both ranks learn the result and stop together."""
    output = tmp_path / "ddp"
    command = [sys.executable, "-m", "acestep_train", "train", "--checkpoint-dir", str(tiny_original),
               "--model-variant", "turbo", "--dataset-dir", str(tensors), "--output-dir", str(output),
               "--epochs", "6", "--max-latent-length", "30", "--rank", "4", "--alpha", "4", "--accelerator", "cpu",
               "--devices", "2", "--strategy", "ddp", "--val-every-steps", "1", "--val-song", "song2.wav",
               "--val-crops", "2", "--val-timesteps", "2", "--val-seed", "5", "--early-stop-patience", "2",
               "--best-min-delta", "10"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("trained 3 steps") == 1  # stopped at the third evaluation, on both ranks
    checks = events(output, "validation")
    assert [e["step"] for e in checks] == [1, 2, 3] and all(e["passes"] in (4, 8) for e in checks)
    assert events(output, "early_stop") and json.loads((output / "run.json").read_text())["config"]["validation"][
        "seed"] == 5
