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

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json
from acestep_train.job_records import (ACTIVE, RUNNING, Job, broken, parse_record, same_process, signal_name,  # noqa: F401
                                       start_time, valid_id)
from acestep_train.paths import read_nofollow

#: A batch job's exit code when it finished but skipped some bad inputs (preprocess: unreadable songs).
#: The job counts as finished; its summary event says what was skipped and why.
EXIT_PARTIAL = 10
TRAIN_GRACE_S = 300.0  # a training step, a checkpoint and a preview can take minutes on a big model
KILL_AFTER_S = 15.0
LOG_TAIL_BYTES = 256 * 1024  # a tail never reads more of a log than this
SECRET_ENV = ("ACESTEP_STUDIO_AUTH",)
RECORD_BYTES = 1024 * 1024  # a job.json larger than this is not ours
WRAPPER = ["-m", "acestep_train.job_wrapper"]
KILL = signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM

try:  # POSIX: one lock for every process sharing the jobs folder
    import fcntl
except ImportError:  # Windows: the lock covers this process's threads only
    fcntl = None
_THREAD_LOCK = threading.RLock()
_CHILDREN: dict[int, subprocess.Popen] = {}  # job processes this UI started: polled so none is left a zombie
_ENDED: dict[int, int] = {}  # pid -> exit status of a reaped child, until its record takes it


def child_environment() -> dict:
    """This process's environment for a job, less the UI's login (a job never needs it)."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_ENV}


def reap_children() -> None:
    """Collect every finished job process this process started (no zombies), keeping how it ended."""
    with _THREAD_LOCK:
        for pid, process in list(_CHILDREN.items()):
            code = process.poll()
            if code is not None:
                _ENDED[pid] = code
                del _CHILDREN[pid]


class JobStore:
    def __init__(self, root: str | Path, launcher: list[str] | None = None):
        """``launcher``: the program that runs a job dir (default: this library's job wrapper)."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.launcher = launcher or [sys.executable, *WRAPPER]

    # ----- records -----------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        if not valid_id(job_id):
            raise ValueError(f"{job_id!r} is not a job id (a plain name: no separators, no '..')")
        return self.root / job_id

    def save(self, job: Job) -> None:
        atomic_write_json(self.path(job.id) / "job.json", asdict(job))

    def load(self, job_id: str) -> Job:
        """The record, schema-checked; a bad one comes back as a ``broken`` job naming the reason."""
        folder = self.path(job_id)
        file = folder / "job.json"
        if folder.is_symlink() or not file.exists() and not file.is_symlink():
            raise FileNotFoundError(f"no such job: {job_id}")
        try:
            if file.stat().st_size > RECORD_BYTES:
                raise ValueError(f"larger than {RECORD_BYTES} bytes")
            return parse_record(safe_json.loads(read_nofollow(file), str(file)), job_id)
        except (OSError, ValueError) as error:  # a symlink, unreadable, not JSON, wrong fields
            created = file.lstat().st_mtime if file.is_symlink() or file.exists() else 0.0
            return broken(job_id, f"{file}: {error}", created)

    def jobs(self) -> list[Job]:
        found = [self.load(p.name) for p in self.root.iterdir()
                 if valid_id(p.name) and p.is_dir() and not p.is_symlink()
                 and ((p / "job.json").exists() or (p / "job.json").is_symlink())]
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
        reap_children()
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
                env={**child_environment(), "PYTHONUNBUFFERED": "1", **job.env})
        _CHILDREN[process.pid] = process
        _ENDED.pop(process.pid, None)  # a pid of an earlier, reaped child may come back
        job.status, job.pid, job.started = "running", process.pid, time.time()
        job.pid_started = start_time(process.pid)
        self.save(job)

    def _refresh(self, job: Job) -> Job:
        """A running job whose process is gone has ended; its wrapper's record says how."""
        if job.status not in RUNNING:
            return job
        if self.alive(job):
            if job.status == "stopping":
                self._escalate(job)
            return job
        if job.exit_code is None:  # killed before the wrapper could record anything
            self._record_kill(job)
        else:  # recorded, but a stop request raced with the record
            job.status = ended_status(job.exit_code, job.stop_requested)
        job.ended = job.ended or time.time()
        self.save(job)
        return job

    def alive(self, job: Job) -> bool:
        """Is the job's process still the one it started (pid and start time; a reused pid is not)?"""
        reap_children()
        return job.pid not in _ENDED and same_process(job.pid, job.pid_started, str(self.path(job.id)))

    def _record_kill(self, job: Job) -> None:
        """The process ended without recording its exit: say how, in the record and at the log's end."""
        code = _ENDED.pop(job.pid, None)
        if code is not None and code < 0:
            job.exit_code, job.ended_by = code, signal_name(code)
        else:
            job.ended_by = "ended without recording an exit status (killed?)" if code is None else signal_name(code)
        job.status = "stopped" if job.stop_requested else "failed"
        with open(self.path(job.id) / "log.txt", "a", encoding="utf-8") as log:
            log.write(f"\n[studio] job {job.ended_by}\n")

    def signal(self, job: Job, sig: int) -> None:
        """Signal the job's process group, only after checking the pid is still the job's process."""
        if self.alive(job):
            signal_group(job.pid, sig)

    def _escalate(self, job: Job) -> None:
        waited = time.time() - (job.stop_requested or time.time())
        grace = TRAIN_GRACE_S if job.kind == "train" else 0.0
        if waited > grace + KILL_AFTER_S:
            self.signal(job, KILL)
        elif waited > grace:
            self.signal(job, signal.SIGTERM)

    def stop(self, job_id: str) -> Job:
        """Queued: dropped. Training: asked to checkpoint and exit. Others, or a second stop: terminated."""
        with self.locked():
            job = self._refresh(self.load(job_id))
            if job.status == "broken":
                raise ValueError(f"job {job_id} has a broken record ({job.problem}); nothing to stop")
            if job.status == "queued":
                job.status, job.ended = "stopped", time.time()
            elif job.status == "running" and job.kind == "train":
                write_control(job, "stop")
                job.status, job.stop_requested = "stopping", time.time()
            elif job.status in RUNNING:
                self.signal(job, signal.SIGTERM)
                grace_over = time.time() - (TRAIN_GRACE_S if job.kind == "train" else 0.0)
                job.status, job.stop_requested = "stopping", min(job.stop_requested or grace_over, grace_over)
            self.save(job)
            return job

    def request(self, job_id: str, what: str) -> None:
        """``save`` or ``sample`` for a running training job."""
        if what not in ("save", "sample"):
            raise ValueError(f"request must be save or sample, not {what!r}")
        job = self.load(job_id)
        if job.status != "running" or job.kind != "train" or not self.alive(job):
            raise ValueError(f"job {job_id} is not a running training job")
        write_control(job, what)

    def finish(self, job_id: str, exit_code: int) -> Job:
        """The wrapper's record of how the job's command ended."""
        with self.locked():
            job = self.load(job_id)
            if job.status == "broken":
                raise ValueError(f"job {job_id}: {job.problem}")
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
