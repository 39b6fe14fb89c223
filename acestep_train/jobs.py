"""Long jobs as CLI subprocesses that survive the browser tab (and the UI process).

A job is a folder ``<jobs root>/<id>/`` with ``job.json`` (command, output dir, status, pid,
times, exit code) and ``log.txt`` (the process's stdout and stderr). The process runs
``python -m acestep_train.job_wrapper <job dir>``, which runs the CLI command and records the
exit code itself, so a UI started later still learns how a job ended. Processes start in a
new session with output to a file (a pipe would die with the UI). One job runs at a time
per GPU: others wait as ``queued`` until ``JobStore.tick`` starts them. Stop asks a training
job to save a checkpoint (``<output>/control/stop``), then terminates after a grace period.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from acestep_train.atomic import atomic_write_json

ACTIVE = ("queued", "running", "stopping")
GRACE_SECONDS = 60.0


@dataclass
class Job:
    id: str
    command: list[str]  # CLI arguments after ``python -m acestep_train``
    output_dir: str  # where the job writes events.jsonl
    kind: str
    status: str = "queued"  # queued | running | stopping | finished | failed | stopped
    pid: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    stop_requested: float | None = None


class JobStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ----- records -----------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        return self.root / job_id

    def save(self, job: Job) -> None:
        atomic_write_json(self.path(job.id) / "job.json", asdict(job))

    def load(self, job_id: str) -> Job:
        file = self.path(job_id) / "job.json"
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such job")
        return Job(**json.loads(file.read_text(encoding="utf-8")))

    def jobs(self) -> list[Job]:
        found = [self.load(p.name) for p in self.root.iterdir() if (p / "job.json").is_file()]
        return sorted(found, key=lambda job: job.created)

    # ----- lifecycle ---------------------------------------------------------------------
    def submit(self, kind: str, command: list[str], output_dir: str | Path) -> Job:
        job = Job(f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:6]}", list(command),
                  str(output_dir), kind)
        self.path(job.id).mkdir(parents=True)
        self.save(job)
        self.tick()
        return self.load(job.id)

    def tick(self) -> list[Job]:
        """Refresh statuses; start the oldest queued job when nothing runs. Returns all jobs."""
        jobs = [self.refresh(job) for job in self.jobs()]
        if not any(job.status in ("running", "stopping") for job in jobs):
            queued = [job for job in jobs if job.status == "queued"]
            if queued:
                self.start(queued[0])
        return self.jobs()

    def start(self, job: Job) -> None:
        log = open(self.path(job.id) / "log.txt", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "acestep_train.job_wrapper", str(self.path(job.id))],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        job.status, job.pid, job.started = "running", process.pid, time.time()
        self.save(job)

    def refresh(self, job: Job) -> Job:
        """A running job whose process is gone ended; the wrapper's record says how."""
        if job.status in ("running", "stopping") and not alive(job.pid):
            latest = self.load(job.id)
            if latest.exit_code is None:  # killed before the wrapper could record anything
                latest.status, latest.ended = ("stopped" if latest.stop_requested else "failed"), time.time()
                self.save(latest)
            return latest
        if job.status == "stopping" and job.stop_requested and time.time() - job.stop_requested > GRACE_SECONDS:
            os.killpg(job.pid, signal.SIGTERM)
        return job

    def stop(self, job_id: str) -> Job:
        job = self.load(job_id)
        if job.status == "queued":
            job.status, job.ended = "stopped", time.time()
        elif job.status == "running":
            control = Path(job.output_dir) / "control"
            control.mkdir(parents=True, exist_ok=True)
            (control / "stop").touch()
            if job.kind != "train":  # only training checkpoints on request; others just end
                os.killpg(job.pid, signal.SIGTERM)
            job.status, job.stop_requested = "stopping", time.time()
        self.save(job)
        return job

    def request(self, job_id: str, what: str) -> None:
        """``save`` or ``sample`` for a running training job."""
        if what not in ("save", "sample"):
            raise ValueError(f"request must be save or sample, not {what!r}")
        job = self.load(job_id)
        if job.status != "running" or job.kind != "train":
            raise ValueError(f"job {job_id} is not a running training job")
        control = Path(job.output_dir) / "control"
        control.mkdir(parents=True, exist_ok=True)
        (control / what).touch()

    def log_tail(self, job_id: str, lines: int = 40) -> str:
        log = self.path(job_id) / "log.txt"
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) if log.is_file() else ""


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has ended
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
