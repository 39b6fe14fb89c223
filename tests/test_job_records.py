"""Job records as a hostile user would attack them: planted, edited and forged records, records naming
another process, relative ids, reused pids, kill -9; and the state folder that keeps them out of the roots."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from acestep_train.job_auth import signed
from acestep_train.jobs import Job, JobStore, reap_children
from acestep_train.studio_state import prepare_state_dir
from app.errors import UserError
from app.status import describe, job_events
from app.tabs.jobs_panel import stop_job
from app.train_actions import control_job
from job_helpers import FAKE, pending_signals, plant, settle


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
        job = store.load(job.id)
        job.status, job.pid, job.exit_code = "running", bystander.pid, None  # pid_started, token: the old job's
        store.save(job)
        assert store.stop(job.id)[0].status == "failed"  # seen as ended, not as running
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


# ----- planted, edited and forged records ------------------------------------------------------
def planted_record(tmp_path, **fields) -> dict:
    return {"id": "evil", "args": ["--help"], "output_dir": str(tmp_path / "evil-out"), "kind": "download",
            "gpus": [], "status": "queued", "created": 0.0, **fields}


@pytest.mark.parametrize("variant", ["as found in the issue", "unsigned", "forged signature", "another install"])
def test_a_planted_queued_record_never_runs_and_its_environment_never_applies(tmp_path, variant):
    store = JobStore(tmp_path / "state" / "jobs")  # the real job wrapper
    hook, marker = tmp_path / "hook", tmp_path / "pwned"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    subprocess.run([sys.executable, "-c", "pass"], env={**os.environ, "PYTHONPATH": str(hook)}, check=True)
    assert marker.read_text() == "ran"  # the hook works: a process started with this env runs it
    marker.unlink()
    env = {"PYTHONPATH": str(hook), "ACESTEP_STUDIO_ROOTS": "/"}
    record = {"as found in the issue": {**planted_record(tmp_path, env=env), "command": ["download", "--help"]},
              "unsigned": planted_record(tmp_path),
              "forged signature": {**planted_record(tmp_path), "signature": "0" * 64},
              "another install": signed(planted_record(tmp_path), os.urandom(32))}[variant]
    plant(store, "evil", record)
    legit = store.submit("download", ["--help"], tmp_path / "legit", gpus=[])  # newer: queued after the planted one
    assert settle(store, legit.id, ("finished", "failed"), timeout=120).status == "finished"
    listed = {job.id: job for job in store.tick()}
    assert listed["evil"].status == "broken"
    assert re.search("unsigned|signature does not match", listed["evil"].problem), listed["evil"].problem
    assert not marker.exists() and not (store.root / "evil" / "log.txt").exists()  # never started
    with pytest.raises(ValueError, match="broken record"):
        store.stop("evil")


@pytest.mark.parametrize("edit", ["args", "kind", "status back to queued", "env added", "copied to another folder"])
def test_an_edited_record_is_broken_and_never_runs_again(store, tmp_path, edit):
    job = settle(store, store.submit("train", ["ok"], tmp_path / "run").id, ("finished",))
    file = store.path(job.id) / "job.json"
    record = json.loads(file.read_text())  # signature kept, a field changed
    record.update({"args": {"args": ["fail"]}, "kind": {"kind": "merge"}, "status back to queued": {"status": "queued"},
                   "env added": {"env": {"PYTHONPATH": "/tmp"}}, "copied to another folder": {}}[edit])
    job_id = "copy" if edit == "copied to another folder" else job.id
    plant(store, job_id, record)
    listed = {j.id: j for j in store.tick()}
    expected = "does not match its folder" if job_id == "copy" else "signature does not match"
    assert listed[job_id].status == "broken" and expected in listed[job_id].problem
    assert settle(store, store.submit("train", ["ok"], tmp_path / "next").id, ("finished",))  # the queue moved on
    assert (tmp_path / "run" / "starts").read_text().splitlines() == [job.id]  # started once, never again


@pytest.fixture
def victim():
    """An unrelated process (``sleep``) in its own session, with SIGTERM blocked: a SIGTERM sent to it stays
    pending where /proc shows it, and a SIGKILL ends it."""
    process = subprocess.Popen(["sleep", "600"], start_new_session=True,
                               preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}))
    yield process
    process.kill()
    process.wait()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads pending signals from /proc (Linux)")
@pytest.mark.parametrize("status", ["stopping", "running"])
@pytest.mark.parametrize("signed_by_studio", [False, True], ids=["planted", "signed-but-not-its-process"])
def test_a_record_naming_another_process_gets_nothing_signalled(store, tmp_path, victim, status, signed_by_studio):
    record = planted_record(tmp_path, id="victim", kind="train", gpus=[7], status=status, pid=victim.pid,
                            pid_started=psutil.Process(victim.pid).create_time(), started=1.0,
                            stop_requested=1.0, token="0" * 32)  # its stop asked long ago: a tick would kill it
    if signed_by_studio:  # as if the record passed the signature: the process's token must still be there
        store.save(Job(**record))
    else:
        plant(store, "victim", record)
    for _ in range(3):
        store.tick()
    presses = (lambda: control_job(store, "stop", "victim"), lambda: stop_job(store, "victim"),
               lambda: stop_job(store, "victim", now=True))  # Train tab's Stop, Jobs panel's Stop and End now
    if signed_by_studio:
        assert control_job(store, "stop", "victim").startswith("victim has ended")  # seen as gone: nothing to stop
        assert [press() for press in presses[1:]]
    else:
        for press in presses:
            with pytest.raises(UserError, match="broken record"):
                press()
    job = store.load("victim")
    assert job.status == "stopped" if signed_by_studio else job.status == "broken"  # gone, never signalled
    assert victim.poll() is None and pending_signals(victim.pid) & {signal.SIGTERM, signal.SIGKILL} == set()
    os.kill(victim.pid, signal.SIGTERM)  # the check sees a signal when one comes
    assert signal.SIGTERM in pending_signals(victim.pid)


# ----- the state folder and its secret ------------------------------------------------------------
def test_the_state_folder_is_private_and_never_inside_a_root(tmp_path):
    roots = [(tmp_path / "data").resolve(), (tmp_path / "ck").resolve()]
    for inside in (tmp_path / "data" / "state", tmp_path / "data", tmp_path):
        with pytest.raises(ValueError, match="served folder"):
            prepare_state_dir(inside, roots)
    state = prepare_state_dir(tmp_path / "state", roots)
    assert state.stat().st_mode & 0o777 == 0o700
    store = JobStore(state / "jobs")
    secret = state / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and JobStore(state / "jobs").key == store.key  # made once
    secret.chmod(0o644)
    with pytest.raises(ValueError, match="readable by you alone"):
        JobStore(state / "jobs")


def test_concurrent_first_starts_make_one_secret(tmp_path):
    code = ("import sys; from acestep_train.jobs import JobStore; "
            f"sys.stdout.write(JobStore({str(tmp_path / 'jobs')!r}).key.hex())")
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[1]) for _ in range(4)]
    keys = {run.communicate(timeout=60)[0] for run in runs}
    assert len(keys) == 1 and bytes.fromhex(keys.pop()) == (tmp_path / "secret").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret-")] == []  # no temp file left
