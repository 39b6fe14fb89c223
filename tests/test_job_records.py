"""Job records as a hostile user would attack them: forged records, relative ids, reused pids, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from acestep_train.jobs import JobStore, reap_children
from app.status import describe, job_events
from job_helpers import FAKE, settle


@pytest.fixture
def store(tmp_path) -> JobStore:
    return JobStore(tmp_path / "jobs", launcher=FAKE)



@pytest.mark.parametrize("content", [
    json.dumps({"model": "x", "preset": "16gb"}),  # a training profile saved into the jobs folder
    "not json at all", json.dumps([1, 2]),
    json.dumps({"id": "zzz", "command": "rm -rf /", "output_dir": "/", "kind": "train"}),
    json.dumps({"id": "../other", "command": [], "output_dir": "/", "kind": "train"}),
])
def test_a_forged_record_is_listed_as_broken_and_breaks_nothing(store, tmp_path, content):
    good = settle(store, store.submit("train", ["ok"], tmp_path / "run").id, ("finished",))
    (store.root / "zzz").mkdir()
    (store.root / "zzz" / "job.json").write_text(content)
    listed = {job.id: job for job in store.tick()}
    assert listed[good.id].status == "finished"
    assert listed["zzz"].status == "broken" and "zzz" in listed["zzz"].problem
    assert "broken" in describe(listed["zzz"], job_events(listed["zzz"]), "")
    with pytest.raises(ValueError, match="broken record"):
        store.stop("zzz")
    assert store.latest("train").id == good.id


def test_a_symlinked_record_is_not_followed(store, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"id": "evil", "command": ["ok"], "output_dir": str(tmp_path), "kind": "train",
                                   "status": "running", "pid": os.getpid()}))
    (store.root / "evil").mkdir()
    (store.root / "evil" / "job.json").symlink_to(outside)
    job = store.load("evil")
    assert job.status == "broken" and job.pid is None


@pytest.mark.parametrize("bad", ["../../other/jobs/x", "..", "a/b", "a\\b", "x/../y", "./x", ".hidden", "a..b"])
def test_relative_ids_are_refused_on_every_operation(store, bad):
    for operation in (store.load, store.stop, store.log_tail, lambda i: store.request(i, "save")):
        with pytest.raises(ValueError, match="not a job id"):
            operation(bad)


def test_stop_never_signals_a_process_that_reused_the_pid(store, tmp_path):
    job = settle(store, store.submit("preprocess", ["sleep", "0"], tmp_path / "p").id, ("finished",))
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        record = json.loads((store.path(job.id) / "job.json").read_text())
        record.update(status="running", pid=bystander.pid, exit_code=None)  # pid_started is the old job's
        (store.path(job.id) / "job.json").write_text(json.dumps(record))
        assert store.stop(job.id).status == "failed"  # seen as ended, not as running
        time.sleep(0.3)
        assert bystander.poll() is None  # no SIGTERM reached the unrelated process
        assert store.tick() and store.load(job.id).status == "failed"  # and it does not block the queue
    finally:
        bystander.kill()
        bystander.wait()


def test_a_job_killed_with_9_says_so_with_no_stale_eta(store, tmp_path):
    job = store.submit("train", ["wait-stop"], tmp_path / "run")
    events = [{"time": time.time() + 1, "event": "step", "step": 3, "epoch": 0, "loss": 0.5, "smoothed_loss": 0.5,
               "lr": 1e-4, "eta_s": 600}]
    running = describe(store.load(job.id), events, "")
    assert "ETA 10:00" in running
    os.killpg(job.pid, signal.SIGKILL)
    ended = settle(store, job.id, ("failed",))
    assert ended.ended_by == "killed (signal 9)" and ended.exit_code == -9
    text = describe(ended, events, store.log_tail(ended.id))
    assert "killed (signal 9)" in text and "ETA" not in text
    assert "job killed (signal 9)" in store.log_tail(ended.id)


def test_finished_jobs_leave_no_zombies(store, tmp_path):
    ids = [store.submit("download", ["ok"], tmp_path / f"d{i}", gpus=[]).id for i in range(3)]
    for job_id in ids:
        settle(store, job_id, ("finished",))
    time.sleep(0.3)
    reap_children()
    zombies = [c for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]
    assert zombies == []
