"""Graphical progress: a bar with the ETA from a job's own events, returned by the Auto-label, Preprocess,
Train and Compare tabs' polls (the functions behind them, on the built trainer app; the jobs are records never started)."""

from __future__ import annotations

import json
import time

import pytest

from acestep_train.jobs import Job
from app.context import AppContext
from app.progress_bar import bar_html
from app.settings import make_settings
from app.status import progress_of
from app.trainer import build_trainer_app


def test_progress_is_done_over_total_from_the_latest_event():
    events = [{"time": 1, "event": "progress", "stage": "songs", "done": 1, "total": 4, "eta_s": 90},
              {"time": 2, "event": "progress", "stage": "songs", "done": 3, "total": 4, "eta_s": 30}]
    progress = progress_of(events)
    assert (progress.fraction, progress.eta_s, progress.unit) == (0.75, 30, "songs")
    steps = [{"time": 1, "event": "start", "total_steps": 200}, {"time": 2, "event": "step", "step": 50, "eta_s": 75}]
    assert progress_of(steps).fraction == 0.25 and progress_of(steps).unit == "steps"
    assert progress_of(steps[1:]) is None and progress_of([]) is None  # no total known: no bar, never a guess
    assert progress_of([{"time": 1, "event": "progress", "done": 0, "total": 0}]).fraction == 0.0


def test_the_bar_shows_the_eta_only_while_the_job_runs():
    events = [{"time": 1, "event": "progress", "stage": "songs", "done": 1, "total": 4, "eta_s": 90}]
    running = bar_html(Job("j1", ["x"], "/o", "preprocess", status="running"), events)
    assert "aria-valuenow='25'" in running and "width:25%" in running and "ETA 1:30" in running
    failed = bar_html(Job("j1", ["x"], "/o", "preprocess", status="failed"), events)
    assert "ETA" not in failed and "failed" in failed
    assert "progressbar" not in bar_html(None, events)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    base = tmp_path_factory.mktemp("progress")
    ctx = AppContext(make_settings("127.0.0.1", 7861, False, None, [str(base / "ck"), str(base / "data")], False,
                                   state_dir=str(base / "studio-state")),
                     base / "ck", base / "state")
    return ctx, build_trainer_app(ctx), base / "data"


def poll(demo, api_name: str):
    found = [fn for fn in demo.fns.values() if fn.api_name == api_name]
    assert len(found) == 1, api_name
    return found[0]


def write_events(folder, job, events) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"time": job.created + 1 + i, **event}) for i, event in enumerate(events)]
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("kind, unit", [("preprocess", "songs"), ("autolabel", "songs"), ("compare", "renders")])
def test_the_preprocess_autolabel_and_compare_polls_return_the_bar(studio, kind, unit):
    ctx, demo, data = studio
    job = ctx.jobs.submit(kind, ["not-started"], data / kind, gpus=[])
    write_events(data / kind, job, [{"event": "progress", "stage": unit, "done": 2, "total": 8, "eta_s": 60}])
    handler = poll(demo, f"{kind}_status")
    status, bar = handler.fn()
    assert status.startswith(f"{kind} {job.id}") and "2/8" in status
    assert [block.elem_classes for block in handler.outputs[1:]] == [["job-progress-bar"]]
    assert "aria-valuenow='25'" in bar and f"2/8 {unit}" in bar and job.id in bar and "ETA 1:00" in bar


def test_the_train_poll_returns_the_bar(studio):
    ctx, demo, data = studio
    job = ctx.jobs.submit("train", ["not-started"], data / "run", gpus=[])
    write_events(data / "run", job, [{"event": "start", "total_steps": 40},
                                     {"event": "step", "step": 10, "epoch": 0, "loss": 1.0, "smoothed_loss": 1.0,
                                      "lr": 1e-4, "eta_s": 30}])
    handler = poll(demo, "train_status")
    shown = handler.fn(None, job.id, None, None)  # {component: value}
    bar = next(value for block, value in shown.items() if "job-progress-bar" in (block.elem_classes or []))
    assert "aria-valuenow='25'" in bar and "10/40 steps" in bar
