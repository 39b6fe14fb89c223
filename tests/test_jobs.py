"""The job queue: one job per GPU, records that outlive the process that started them, stop, crash, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acestep_train import jobs
from acestep_train.jobs import JobStore
from job_helpers import FAKE, settle

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
    bad = store.submit("train", ["train", "--output-dir", str(tmp_path)], tmp_path / "run")
    good = store.submit("models", ["models", "--checkpoint-dir", str(tmp_path)], tmp_path / "m")
    assert store.load(good.id).status == "queued"
    deadline = time.monotonic() + 60
    while store.load(good.id).status in ("queued", "running"):  # nobody ticks: the first wrapper starts it
        assert time.monotonic() < deadline, store.load(good.id)
        time.sleep(0.1)
    failed = store.load(bad.id)
    assert failed.status == "failed" and failed.exit_code == 2
    assert "error: checkpoint_dirs must name at least one folder" in store.log_tail(bad.id)
    assert store.load(good.id).exit_code == 1  # `models` on an empty folder: "no models found"


def test_stop_asks_training_to_checkpoint_then_records_stopped(store, tmp_path):
    job = store.submit("train", ["wait-stop"], tmp_path / "run")
    stopping = store.stop(job.id)
    assert stopping.status == "stopping" and (tmp_path / "run" / "control" / "stop").is_file()
    assert settle(store, job.id, ("stopped", "failed")).status == "stopped"


def test_stop_terminates_other_jobs_and_kills_a_stubborn_one(store, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "KILL_AFTER_S", 0.5)
    sleeper = store.submit("preprocess", ["sleep", "60"], tmp_path / "p")
    store.stop(sleeper.id)
    assert settle(store, sleeper.id, ("stopped", "failed")).status == "stopped"
    stubborn = store.submit("preprocess", ["ignore-term"], tmp_path / "q")
    time.sleep(0.5)  # let it install its SIGTERM handler
    store.stop(stubborn.id)
    assert settle(store, stubborn.id, ("stopped", "failed")).status == "stopped"


def test_queued_job_stops_without_running(store, tmp_path):
    store.submit("train", ["wait-stop"], tmp_path / "a")
    queued = store.submit("train", ["ok"], tmp_path / "b")
    assert store.stop(queued.id).status == "stopped"
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
    record = json.loads((store.path(job.id) / "job.json").read_text())
    record.update(status="running", pid=os.getpid(), exit_code=None)  # this pid lives, but is not the job
    (store.path(job.id) / "job.json").write_text(json.dumps(record))
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
