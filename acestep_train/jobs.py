"""Long jobs as CLI subprocesses that survive the browser tab (and the UI process).

A job is a folder ``<state folder>/jobs/<id>/`` with ``job.json`` (kind, arguments, output dir,
GPUs, status, pid, token, times, exit code; signed, see ``job_records``) and ``log.txt`` (the
process's stdout and stderr). The state folder is the studio's own, outside every root
(``studio_state``). The process runs ``python -m acestep_train.job_wrapper <job dir>``, which
runs the command its kind names with the record's arguments, records the exit code itself and
starts the next queued job, so the queue moves on and a UI started later still learns how a job
ended. Processes start in a new session with output to a file (a pipe would die with the UI).
Their environment is the studio's own (less its login), plus the job's token and, for a job
pinned to GPUs, ``CUDA_VISIBLE_DEVICES``: a record carries no environment.

The queue: jobs wait as ``queued`` until ``JobStore.tick`` starts them, oldest first, one at a
time per GPU (a job names the GPUs it uses; a job that uses none, such as a download, never
waits). Every change to the records happens under a file lock, so several browser tabs, the
UI's runner thread, the captioner app and the job wrappers never start the same job twice.

Stop: a training job is asked to save a checkpoint and exit (``<output>/control/stop``); it
gets ``TRAIN_GRACE_S`` before its process group is terminated. Other jobs are terminated at
once. Stop is idempotent: a second stop of a stopping job changes nothing (``end_now`` ends it
at once). A process that ignores SIGTERM is killed ``KILL_AFTER_S`` later. No signal is sent
unless the live process shows the job's token.
"""

from __future__ import annotations

import os
import secrets
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
from acestep_train.job_auth import install_secret, signed
from acestep_train.job_records import (ACTIVE, KINDS, RUNNING, TOKEN_ENV, Job, broken, parse_record,  # noqa: F401
                                       same_process, signal_name, start_time, valid_args, valid_id)
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


def child_environment(job: Job) -> dict:
    """The environment of ``job``'s process: this process's (less the UI's login, which a job never needs),
    the job's token, and its GPUs when it is pinned to them. Nothing comes from the record but those."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update({"PYTHONUNBUFFERED": "1", TOKEN_ENV: job.token})
    if job.pin_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, job.gpus))
    return env


def reap_children() -> None:
    """Collect every finished job process this process started (no zombies), keeping how it ended."""
    with _THREAD_LOCK:
        for pid, process in list(_CHILDREN.items()):
            code = process.poll()
            if code is not None:
                _ENDED[pid] = code
                del _CHILDREN[pid]


def collect_child(pid: int | None, timeout: float = 5.0) -> None:
    """Wait briefly for our own child ``pid`` that no longer runs, so its exit status is known.

    A killed child can look gone (zombie) before ``poll()`` sees it end; waiting here keeps
    "killed (signal 9)" exact instead of "ended without recording an exit status"."""
    with _THREAD_LOCK:
        process = _CHILDREN.pop(pid, None) if pid is not None else None
    if process is None:
        return
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        with _THREAD_LOCK:
            _CHILDREN[pid] = process  # still running after all: leave it to the next reap
        return
    with _THREAD_LOCK:
        _ENDED[pid] = code


class JobStore:
    def __init__(self, root: str | Path, launcher: list[str] | None = None):
        """``root``: the jobs folder, inside the state folder that keeps the install's secret.
        ``launcher``: the program that runs a job dir (default: this library's job wrapper)."""
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.key = install_secret(self.root.parent)
        self.launcher = launcher or [sys.executable, *WRAPPER]

    # ----- records -----------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        if not valid_id(job_id):
            raise ValueError(f"{job_id!r} is not a job id (a plain name: no separators, no '..')")
        return self.root / job_id

    def save(self, job: Job) -> None:
        atomic_write_json(self.path(job.id) / "job.json", signed(asdict(job), self.key))

    def load(self, job_id: str) -> Job:
        """The record, schema-checked; a bad one comes back as a ``broken`` job naming the reason."""
        folder = self.path(job_id)
        file = folder / "job.json"
        if folder.is_symlink() or not file.exists() and not file.is_symlink():
            raise FileNotFoundError(f"no such job: {job_id}")
        try:
            if file.stat().st_size > RECORD_BYTES:
                raise ValueError(f"larger than {RECORD_BYTES} bytes")
            return parse_record(safe_json.loads(read_nofollow(file), str(file)), job_id, self.key)
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
    def submit(self, kind: str, args: list[str], output_dir: str | Path, gpus: list[int] | None = None,
               pin_gpus: bool = False) -> Job:
        """Queue ``kind``'s command (``KINDS``) with ``args``; ``pin_gpus``: it sees only ``gpus``."""
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a kind of job ({', '.join(KINDS)})")
        if not valid_args(list(args)):
            raise ValueError(f"job arguments must be a list of plain strings (no NUL), not {args!r}"[:200])
        job = Job(f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:6]}", list(args),
                  str(output_dir), kind, [0] if gpus is None else list(gpus), pin_gpus)
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
        """Start the job's process with a fresh token, saved first: the wrapper checks it against the record."""
        folder = self.path(job.id)
        job.status, job.started, job.token = "running", time.time(), secrets.token_hex(16)
        self.save(job)
        try:
            with open(folder / "log.txt", "ab") as log:
                process = subprocess.Popen(
                    [*self.launcher, str(folder)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, cwd=Path(__file__).resolve().parents[1], env=child_environment(job))
        except OSError as error:
            job.status, job.ended, job.ended_by = "failed", time.time(), f"could not start ({error})"
            self.save(job)
            return
        _CHILDREN[process.pid] = process
        _ENDED.pop(process.pid, None)  # a pid of an earlier, reaped child may come back
        job.pid, job.pid_started = process.pid, start_time(process.pid)
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
        """Is the job's process still the one it started (its token in the process's environment, its start
        time as recorded)? A reused pid, or a pid named by anything but this studio, is not."""
        reap_children()
        return job.pid not in _ENDED and same_process(job.pid, job.pid_started, job.token)

    def _record_kill(self, job: Job) -> None:
        """The process ended without recording its exit: say how, in the record and at the log's end."""
        collect_child(job.pid)
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

    def stop(self, job_id: str) -> tuple[Job, str]:
        """Stop the job named, and only it; pressing again changes nothing. Returns (job, what was done):
        ``cancelled`` (it was queued), ``asked`` (training saves a checkpoint, then exits), ``terminated``
        (SIGTERM), ``already stopping``, or ``ended`` (nothing to stop)."""
        return self._halt(job_id, now=False)

    def end_now(self, job_id: str) -> tuple[Job, str]:
        """End the job at once, a stopping training run included (no checkpoint): SIGTERM, then SIGKILL
        ``KILL_AFTER_S`` later. Returns (job, ``cancelled`` | ``terminated`` | ``ended``)."""
        return self._halt(job_id, now=True)

    def _halt(self, job_id: str, now: bool) -> tuple[Job, str]:
        with self.locked():
            job = self._refresh(self.load(job_id))
            if job.status == "broken":
                raise ValueError(f"job {job_id} has a broken record ({job.problem}); nothing to stop")
            if job.status == "queued":
                job.status, job.ended, action = "stopped", time.time(), "cancelled"
            elif job.status not in RUNNING:
                return job, "ended"
            elif now or job.status == "running" and job.kind != "train":
                action = self._terminate(job)
            elif job.status == "stopping":
                return job, "already stopping"
            else:  # a running training job: it saves a checkpoint, then exits
                write_control(job, "stop")
                job.status, job.stop_requested, action = "stopping", time.time(), "asked"
            self.save(job)
            return job, action

    def _terminate(self, job: Job) -> str:
        """SIGTERM now (to the job's own process only), and the grace over, so a tick kills it later."""
        self.signal(job, signal.SIGTERM)
        grace_over = time.time() - (TRAIN_GRACE_S if job.kind == "train" else 0.0)
        job.status, job.stop_requested = "stopping", min(job.stop_requested or grace_over, grace_over)
        return "terminated"

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
