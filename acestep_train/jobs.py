"""Long jobs as CLI subprocesses that survive the browser tab (and the UI process).

A job is a folder ``<jobs root>/<id>/`` with ``job.json`` (command, output dir, GPUs, status,
pid, times, exit code) and ``log.txt`` (the process's stdout and stderr). The process runs
``python -m acestep_train.job_wrapper <job dir>``, which runs the CLI command, records the exit
code itself and starts the next queued job, so the queue moves on and a UI started later still
learns how a job ended. Processes start in a new session with output to a file (a pipe would
die with the UI).

The queue: jobs wait as ``queued`` until ``JobStore.tick`` starts them, oldest first, one at a
time per GPU (a job names the GPUs it uses; a job that uses none, such as a download, never
waits). Every change to the records happens under a file lock, so several browser tabs, the
UI's runner thread, the captioner app and the job wrappers never start the same job twice.

Stop: a training job is asked to save a checkpoint and exit (``<output>/control/stop``); it
gets ``TRAIN_GRACE_S`` before its process group is terminated. Other jobs are terminated at
once. A second stop ends a stopping job at once. A process that ignores SIGTERM is killed
``KILL_AFTER_S`` later.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from acestep_train.atomic import atomic_write_json

ACTIVE = ("queued", "running", "stopping")
#: A batch job's exit code when it finished but skipped some bad inputs (preprocess: unreadable songs).
#: The job counts as finished; its summary event says what was skipped and why.
EXIT_PARTIAL = 10
RUNNING = ("running", "stopping")
TRAIN_GRACE_S = 300.0  # a training step, a checkpoint and a preview can take minutes on a big model
KILL_AFTER_S = 15.0
LOG_TAIL_BYTES = 256 * 1024  # a tail never reads more of a log than this
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
WRAPPER = ["-m", "acestep_train.job_wrapper"]
KILL = signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM

try:  # POSIX: one lock for every process sharing the jobs folder
    import fcntl
except ImportError:  # Windows: the lock covers this process's threads only
    fcntl = None
_THREAD_LOCK = threading.RLock()


@dataclass
class Job:
    id: str
    command: list[str]  # CLI arguments after ``python -m acestep_train`` (or ``captioner ...``)
    output_dir: str  # where the job writes events.jsonl
    kind: str  # preprocess | train | estimate | merge | autolabel | caption | download ...
    gpus: list[int] = field(default_factory=lambda: [0])  # GPUs it occupies; [] = none
    env: dict = field(default_factory=dict)  # extra environment, e.g. CUDA_VISIBLE_DEVICES
    status: str = "queued"  # queued | running | stopping | finished | failed | stopped
    pid: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    stop_requested: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobStore:
    def __init__(self, root: str | Path, launcher: list[str] | None = None):
        """``launcher``: the program that runs a job dir (default: this library's job wrapper)."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.launcher = launcher or [sys.executable, *WRAPPER]

    # ----- records -----------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):
            raise ValueError(f"{job_id!r} is not a job id")
        return self.root / job_id

    def save(self, job: Job) -> None:
        atomic_write_json(self.path(job.id) / "job.json", asdict(job))

    def load(self, job_id: str) -> Job:
        file = self.path(job_id) / "job.json"
        if not file.is_file():
            raise FileNotFoundError(f"no such job: {job_id}")
        return Job(**json.loads(file.read_text(encoding="utf-8")))

    def jobs(self) -> list[Job]:
        found = [self.load(p.name) for p in self.root.iterdir()
                 if JOB_ID.match(p.name) and (p / "job.json").is_file()]
        return sorted(found, key=lambda job: job.created)

    def latest(self, kind: str) -> Job | None:
        jobs = [job for job in self.jobs() if job.kind == kind]
        return jobs[-1] if jobs else None

    def log_tail(self, job_id: str, lines: int = 40) -> str:
        """The last ``lines`` non-blank lines of the job's output (a progress bar's updates are lines too)."""
        log = self.path(job_id) / "log.txt"
        if not log.is_file():
            return ""
        with open(log, "rb") as handle:
            handle.seek(max(0, log.stat().st_size - LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
        return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])

    @contextmanager
    def locked(self):
        with _THREAD_LOCK, open(self.root / ".lock", "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    # ----- lifecycle ---------------------------------------------------------------------
    def submit(self, kind: str, command: list[str], output_dir: str | Path, gpus: list[int] | None = None,
               env: dict | None = None) -> Job:
        job = Job(f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:6]}", list(command),
                  str(output_dir), kind, [0] if gpus is None else list(gpus), dict(env or {}))
        with self.locked():
            self.path(job.id).mkdir(parents=True)
            self.save(job)
        self.tick()
        return self.load(job.id)

    def tick(self) -> list[Job]:
        """Refresh statuses; start queued jobs, oldest first, whose GPUs are free. Returns all jobs."""
        with self.locked():
            jobs = [self._refresh(job) for job in self.jobs()]
            busy = {gpu for job in jobs if job.status in RUNNING for gpu in job.gpus}
            for job in jobs:
                if job.status != "queued":
                    continue
                if not busy & set(job.gpus):
                    self._start(job)
                busy |= set(job.gpus)  # later jobs for these GPUs wait their turn
            return self.jobs()

    def _start(self, job: Job) -> None:
        folder = self.path(job.id)
        with open(folder / "log.txt", "ab") as log:
            process = subprocess.Popen(
                [*self.launcher, str(folder)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=Path(__file__).resolve().parents[1],
                env={**os.environ, "PYTHONUNBUFFERED": "1", **job.env})
        job.status, job.pid, job.started = "running", process.pid, time.time()
        self.save(job)

    def _refresh(self, job: Job) -> Job:
        """A running job whose process is gone has ended; its wrapper's record says how."""
        if job.status not in RUNNING:
            return job
        if alive(job.pid, str(self.path(job.id))):
            if job.status == "stopping":
                self._escalate(job)
            return job
        if job.exit_code is None:  # killed before the wrapper could record anything
            job.status = "stopped" if job.stop_requested else "failed"
        else:  # recorded, but a stop request raced with the record
            job.status = ended_status(job.exit_code, job.stop_requested)
        job.ended = job.ended or time.time()
        self.save(job)
        return job

    def _escalate(self, job: Job) -> None:
        waited = time.time() - (job.stop_requested or time.time())
        grace = TRAIN_GRACE_S if job.kind == "train" else 0.0
        if waited > grace + KILL_AFTER_S:
            signal_group(job.pid, KILL)
        elif waited > grace:
            signal_group(job.pid, signal.SIGTERM)

    def stop(self, job_id: str) -> Job:
        """Queued: dropped. Training: asked to checkpoint and exit. Others, or a second stop: terminated."""
        with self.locked():
            job = self._refresh(self.load(job_id))
            if job.status == "queued":
                job.status, job.ended = "stopped", time.time()
            elif job.status == "running" and job.kind == "train":
                write_control(job, "stop")
                job.status, job.stop_requested = "stopping", time.time()
            elif job.status in RUNNING:
                signal_group(job.pid, signal.SIGTERM)
                grace_over = time.time() - (TRAIN_GRACE_S if job.kind == "train" else 0.0)
                job.status, job.stop_requested = "stopping", min(job.stop_requested or grace_over, grace_over)
            self.save(job)
            return job

    def request(self, job_id: str, what: str) -> None:
        """``save`` or ``sample`` for a running training job."""
        if what not in ("save", "sample"):
            raise ValueError(f"request must be save or sample, not {what!r}")
        job = self.load(job_id)
        if job.status != "running" or job.kind != "train":
            raise ValueError(f"job {job_id} is not a running training job")
        write_control(job, what)

    def finish(self, job_id: str, exit_code: int) -> Job:
        """The wrapper's record of how the job's command ended."""
        with self.locked():
            job = self.load(job_id)
            job.exit_code, job.ended = exit_code, time.time()
            job.status = ended_status(exit_code, job.stop_requested)
            self.save(job)
            return job



def ended_status(exit_code: int, stop_requested: float | None) -> str:
    if exit_code not in (0, EXIT_PARTIAL):
        return "failed"
    return "stopped" if stop_requested else "finished"  # a graceful stop saved a checkpoint and exited 0


def write_control(job: Job, what: str) -> None:
    control = Path(job.output_dir) / "control"
    control.mkdir(parents=True, exist_ok=True)
    (control / what).touch()


def signal_group(pid: int | None, sig: int) -> None:
    if not pid:
        return
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, sig)  # the job's own session: the wrapper, the CLI and any workers
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def alive(pid: int | None, marker: str) -> bool:
    """Is ``pid`` still the job whose command line holds ``marker``? (A reused pid is not.)"""
    if not pid:
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has ended
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child (started by an earlier UI or by a job wrapper)
    proc = Path("/proc")
    if proc.is_dir():
        try:  # a zombie's command line is empty
            return marker.encode() in (proc / str(pid) / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return False
        except PermissionError:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_runner(store: JobStore, interval: float = 2.0) -> threading.Event:
    """Tick the queue in a daemon thread, so it moves with no browser open. Set the event to end it."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(interval):
            try:
                store.tick()
            except (OSError, ValueError) as error:  # a broken record must not end the queue
                print(f"job queue: {error}", file=sys.stderr, flush=True)

    threading.Thread(target=run, name="job-queue", daemon=True).start()
    return done
