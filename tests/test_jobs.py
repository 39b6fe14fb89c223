"""The job queue: one job per GPU, records that outlive the process that started them, stop, crash, locks,
and the Stop / Save now / Sample now controls bound to the job they were shown for."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import pytest

from acestep_train import jobs
from acestep_train.jobs import JobStore
from app.context import AppContext
from app.settings import make_settings
from app.tabs.jobs_panel import stop_job
from app.tabs.train import press
from app.train_actions import control, monitor
from job_helpers import FAKE, settle, wait_for_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path) -> JobStore:
    return JobStore(tmp_path / "jobs", launcher=FAKE)



def test_one_job_at_a_time_per_gpu_and_cpu_jobs_never_wait(store, tmp_path):
    first = store.submit("preprocess", ["wait-stop"], tmp_path / "a")
    second = store.submit("train", ["ok"], tmp_path / "b")
    other_gpu = store.submit("train", ["ok"], tmp_path / "c", gpus=[1])
    download = store.submit("download", ["ok"], tmp_path / "d", gpus=[])
    assert store.load(first.id).status == "running"
    assert store.load(second.id).status == "queued"  # GPU 0 is busy
    assert settle(store, other_gpu.id, ("finished",)).exit_code == 0
    assert settle(store, download.id, ("finished",)).exit_code == 0
    assert store.load(second.id).status == "queued"
    (tmp_path / "a" / "control").mkdir()
    (tmp_path / "a" / "control" / "stop").touch()
    assert settle(store, first.id, ("finished",)).exit_code == 0
    assert settle(store, second.id, ("finished",)).started >= store.load(first.id).ended


def test_a_new_store_reattaches_and_learns_how_the_job_ended(store, tmp_path):
    job = store.submit("train", ["sleep", "1.0"], tmp_path / "run")
    again = JobStore(store.root)  # another UI process, or a reloaded page
    assert again.load(job.id).status == "running" and again.load(job.id).pid == job.pid
    time.sleep(1.5)
    ended = settle(again, job.id, ("finished", "failed"))
    assert ended.status == "finished" and ended.exit_code == 0 and ended.ended >= ended.started


def test_a_crashed_job_is_failed_with_its_exit_code_and_log(store, tmp_path):
    job = settle(store, store.submit("merge", ["fail"], tmp_path / "m").id, ("finished", "failed"))
    assert job.status == "failed" and job.exit_code == 3
    assert "the error the user must see" in store.log_tail(job.id)


def test_the_real_wrapper_records_a_cli_error_and_starts_the_next_job(tmp_path):
    store = JobStore(tmp_path / "jobs")
    bad = store.submit("train", ["--output-dir", str(tmp_path)], tmp_path / "run")
    good = store.submit("download", ["--help"], tmp_path / "m")  # the kind names the command: `download --help`
    assert store.load(good.id).status == "queued"
    deadline = time.monotonic() + 60
    while store.load(good.id).status in ("queued", "running"):  # nobody ticks: the first wrapper starts it
        assert time.monotonic() < deadline, store.load(good.id)
        time.sleep(0.1)
    failed = store.load(bad.id)
    assert failed.status == "failed" and failed.exit_code == 2
    assert "error: checkpoint_dirs must name at least one folder" in store.log_tail(bad.id)
    assert store.load(good.id).exit_code == 0 and "python -m acestep_train download --help" in store.log_tail(good.id)


def test_stop_asks_training_to_checkpoint_then_records_stopped(store, tmp_path):
    job = store.submit("train", ["wait-stop"], tmp_path / "run")
    stopping, action = store.stop(job.id)
    assert action == "asked" and stopping.status == "stopping" and (tmp_path / "run" / "control" / "stop").is_file()
    assert settle(store, job.id, ("stopped", "failed")).status == "stopped"


def test_stop_terminates_other_jobs_and_kills_a_stubborn_one(store, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "KILL_AFTER_S", 0.5)
    sleeper = store.submit("preprocess", ["sleep", "60"], tmp_path / "p")
    store.stop(sleeper.id)
    assert settle(store, sleeper.id, ("stopped", "failed")).status == "stopped"
    stubborn = store.submit("preprocess", ["ignore-term"], tmp_path / "q")
    wait_for_file(tmp_path / "q" / "ignoring")  # its SIGTERM handler is in place
    store.stop(stubborn.id)
    assert settle(store, stubborn.id, ("stopped", "failed")).status == "stopped"


def test_queued_job_stops_without_running(store, tmp_path):
    store.submit("train", ["wait-stop"], tmp_path / "a")
    queued = store.submit("train", ["ok"], tmp_path / "b")
    assert store.stop(queued.id)[0].status == "stopped"
    assert not (tmp_path / "b" / "starts").exists()
    store.stop(store.jobs()[0].id)


def test_save_and_sample_requests_only_reach_running_training(store, tmp_path):
    job = store.submit("train", ["wait-stop"], tmp_path / "run")
    store.request(job.id, "save")
    store.request(job.id, "sample")
    assert {p.name for p in (tmp_path / "run" / "control").iterdir()} == {"save", "sample"}
    with pytest.raises(ValueError, match="save or sample"):
        store.request(job.id, "explode")
    store.stop(job.id)
    settle(store, job.id, ("stopped",))
    with pytest.raises(ValueError, match="not a running training job"):
        store.request(job.id, "save")


def test_a_reused_pid_is_not_mistaken_for_the_job(store, tmp_path):
    job = store.submit("train", ["sleep", "0"], tmp_path / "run", gpus=[7])
    settle(store, job.id, ("finished",))
    job = store.load(job.id)
    job.status, job.pid, job.exit_code = "running", os.getpid(), None  # this pid lives, but is not the job
    store.save(job)  # signed: only the pid and token checks stand between this record and a signal
    assert store.tick()[0].status == "failed"


def test_job_ids_cannot_leave_the_jobs_folder(store):
    for bad in ("../x", "..", "/etc", "a/../../b", ".lock"):
        with pytest.raises(ValueError, match="not a job id"):
            store.log_tail(bad)
    with pytest.raises(FileNotFoundError):
        store.load("no-such-job")


def test_concurrent_ticks_from_several_processes_start_a_job_once(store, tmp_path):
    store.submit("train", ["wait-stop"], tmp_path / "busy")  # keeps GPU 0 busy while the next is queued
    waiting = store.submit("train", ["wait-stop"], tmp_path / "run")
    (tmp_path / "busy" / "control").mkdir(parents=True)
    (tmp_path / "busy" / "control" / "stop").touch()
    time.sleep(0.5)  # the busy job has exited, unrecorded by anyone's tick yet
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from acestep_train.jobs import JobStore; "
            f"JobStore({str(store.root)!r}, launcher={FAKE!r}).tick()")
    ticks = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
    assert all(proc.wait(timeout=60) == 0 for proc in ticks)
    deadline = time.monotonic() + 20
    while not (tmp_path / "run" / "starts").is_file():
        assert time.monotonic() < deadline, "no tick started the queued job"
        time.sleep(0.05)
    time.sleep(0.5)  # a second start, if any, would have written its line by now
    assert (tmp_path / "run" / "starts").read_text().splitlines() == [waiting.id]
    store.stop(waiting.id)
    settle(store, waiting.id, ("stopped",))


# ----- controls bound to a job id (Train tab and Jobs panel) ----------------------------------------
@pytest.fixture
def studio(tmp_path, studio_state):
    """A fake-launcher store and an app context reading the same state folder (what the Train tab sees)."""
    settings = make_settings("127.0.0.1", 7861, False, None, [str(tmp_path / "ck"), str(tmp_path / "runs")], False,
                             state_dir=str(studio_state))
    ctx = AppContext(settings, tmp_path / "ck", tmp_path / "runs")
    return ctx, JobStore(ctx.jobs.root, launcher=FAKE), tmp_path / "runs"


def test_two_stop_presses_stop_the_run_shown_and_never_the_queued_one(studio):
    ctx, store, runs = studio
    a = store.submit("train", ["wait-stop"], runs / "a")
    b = store.submit("train", ["wait-go"], runs / "b")
    assert store.load(b.id).status == "queued"
    shown = monitor(ctx, None, None)["shown"]  # the tab shows A; its buttons carry A's id
    assert shown == a.id
    assert press(ctx, "stop", None, shown) == f"Stop asked for {a.id}: it saves a checkpoint, then ends."
    assert settle(store, b.id, ("running",)).status == "running"  # A saved and ended, B started: then press 2
    held = monitor(ctx, None, None, shown)
    assert held["shown"] == a.id and f"{b.id} is running now" in held["status"]  # the tab stays on A, names B
    assert press(ctx, "stop", None, held["shown"]) == f"{a.id} has ended (stopped); nothing to stop."
    assert store.load(a.id).status == "stopped"
    assert store.load(b.id).status == "running" and not (runs / "b" / "control").exists()  # B untouched
    wait_for_file(runs / "b" / "starts")
    (runs / "b" / "go").touch()
    assert settle(store, b.id, ("finished", "stopped", "failed")).status == "finished"


def test_a_second_stop_while_the_run_saves_changes_nothing(studio):
    ctx, store, runs = studio
    a = store.submit("train", ["wait-go"], runs / "a")  # slow to act on its stop request
    b = store.submit("train", ["ok"], runs / "b")
    assert control(ctx, "stop", a.id).startswith(f"Stop asked for {a.id}")
    assert control(ctx, "stop", a.id).startswith(f"Already stopping {a.id}")
    assert stop_job(store, a.id) and store.stop(a.id)[1] == "already stopping"  # the Jobs panel's Stop too
    assert control(ctx, "save", a.id) == f"{a.id} is stopping, not running: nothing to save."
    stopping = store.load(a.id)
    assert stopping.status == "stopping" and store.alive(stopping) and store.load(b.id).status == "queued"
    wait_for_file(runs / "a" / "starts")
    (runs / "a" / "go").touch()
    assert settle(store, a.id, ("stopped", "failed")).status == "stopped"
    assert settle(store, b.id, ("finished", "failed")).status == "finished"
    with pytest.raises(gr.Error, match="No training run shown"):
        control(ctx, "stop", None)


def test_end_now_ends_a_stopping_run_and_then_the_queue_moves(studio, monkeypatch):
    ctx, store, runs = studio
    monkeypatch.setattr(jobs, "KILL_AFTER_S", 0.5)
    a = store.submit("train", ["ignore-term"], runs / "a")
    b = store.submit("train", ["ok"], runs / "b")
    wait_for_file(runs / "a" / "ignoring")
    store.stop(a.id)
    assert store.end_now(a.id)[1] == "terminated"  # SIGTERM ignored: killed KILL_AFTER_S later by a tick
    assert settle(store, a.id, ("stopped", "failed")).ended_by == "killed (signal 9)"
    assert settle(store, b.id, ("finished", "failed")).status == "finished"
