"""The Train tab's side of validation: its fields reach the job's command line, bad values are refused by
name, and the monitor's figure and status show the validation loss beside the training loss."""

from __future__ import annotations


import pytest

from acestep_train.tensors import Manifest
from acestep_train.presets import load_preset
from app import train_actions as actions, train_settings as ts
from app.context import AppContext
from app.errors import UserError
from app.settings import make_settings
from app.plots import loss_figure, run_steps
from app.validation_view import validation_lines
from test_app_status import PATHS, job_config, values



def test_validation_fields_reach_the_runs_config():
    config = job_config(ts.command(values(val_every="25", val_fraction="0.2"), PATHS, []) + ["--val-song", "a.wav"])
    assert (config.validation.every_steps, config.validation.fraction, config.validation.songs) == (25, 0.2, ["a.wav"])
    assert values().val_every == 0  # the presets leave validation off


@pytest.mark.parametrize(("changes", "message"), [
    ({"val_every": "2.5"}, "Validation every N steps \\(0: off\\): must be a whole number"),
    ({"val_every": "-1"}, "Validation every N steps \\(0: off\\) must be at least 0"),
    ({"val_fraction": "1"}, r"Validation: share of songs held out \(validation.fraction\) must be in \[0, 1\)")])
def test_bad_validation_fields_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        try:
            ts.resolve(load_preset("quick_test").for_adapter("lora"), values(**changes), PATHS, None)
        except ValueError as error:
            raise ValueError(ts.readable(str(error))) from error


def check(step, loss, new_best=False, fraction=0.5):
    return {"event": "validation", "step": step, "loss": loss, "base_loss": 2.0, "seconds": 0.25, "passes": 8,
            "fraction_of_step": fraction, "overhead": fraction / 2, "new_best": new_best}


def test_the_figure_and_status_show_validation_beside_training():
    steps = [{"event": "step", "step": s, "loss": 1.0 / s, "smoothed_loss": 1.0 / s, "lr": 1e-4} for s in (1, 2, 3, 4)]
    events = steps + [check(2, 1.5, True), check(4, 1.6)]
    figure = loss_figure(run_steps(events, events), run_steps(events, events, "validation"))
    traces = {trace.name: trace for trace in figure.data}
    assert list(traces["validation loss (held-out songs)"].y) == [1.5, 1.6]
    assert list(traces["base model on held-out songs"].y) == [2.0, 2.0] and list(traces["loss"].x) == [1, 2, 3, 4]
    assert "validation loss (held-out songs)" not in {t.name for t in loss_figure(steps).data}
    assert validation_lines(events) == ["validation loss 1.6000 at step 4 (base model 2.0000); best 1.5000 at step "
                                        "2; 0.25 s each, 0.5x a training step (+25% of training time)"]
    assert validation_lines(steps) == []


def test_start_refuses_validation_with_no_song_held_out_before_queueing(tmp_path):
    """Settings are remembered across projects: "every 2 steps" typed for a project with marked songs must not
    reach a project without any as a job that fails after Start; the tab refuses it, naming what to do."""
    roots = [str(tmp_path / "ck"), str(tmp_path / "data"), str(tmp_path / "state")]
    ctx = AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tmp_path / "ck", tmp_path / "state")
    tensors = tmp_path / "data" / "tensors"
    tensors.mkdir(parents=True)
    Manifest("f" * 64, "tiny-turbo", "turbo", 8, {},
             {name: {"file": f"{name}.pt", "frames": 50} for name in ("a", "b")}).save(tensors)
    form = values(tensors=str(tensors), output=str(tmp_path / "data" / "run"), val_every="2", val_fraction="0")
    with pytest.raises(UserError, match="no song is held out: mark songs for validation in the Dataset tab"):
        actions.start(ctx, form)
    assert ctx.jobs.jobs() == [] and not (tmp_path / "data" / "run").exists()  # nothing queued, nothing written
