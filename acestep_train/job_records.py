"""Job records (``<jobs root>/<id>/job.json``): schema-checked, and the process they name verified.

A record is the studio's own: its id must be a plain name (no separators, no ``..``) equal to
its folder's, and every field must have its type. A record that fails the check is shown as a
``broken`` job naming the reason; it never breaks the job list, a download or a status poll.
A pid alone proves nothing (pids are reused): a job's process is recognised by its pid *and*
its start time (``psutil``), recorded when the job starts; no signal is sent to a process
that does not match.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, fields

import psutil

ACTIVE = ("queued", "running", "stopping")
RUNNING = ("running", "stopping")
STATUSES = (*ACTIVE, "finished", "failed", "stopped", "broken")
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}(\.[A-Za-z0-9_-]+)*$")  # no "/", no "..", no "\\"
START_TOLERANCE_S = 0.05


@dataclass
class Job:
    id: str
    command: list[str]  # CLI arguments after ``python -m acestep_train`` (or ``captioner ...``)
    output_dir: str  # where the job writes events.jsonl
    kind: str  # preprocess | train | estimate | merge | autolabel | caption | download ...
    gpus: list[int] = field(default_factory=lambda: [0])  # GPUs it occupies; [] = none
    env: dict = field(default_factory=dict)  # extra environment, e.g. CUDA_VISIBLE_DEVICES
    status: str = "queued"  # queued | running | stopping | finished | failed | stopped | broken
    pid: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    stop_requested: float | None = None
    pid_started: float | None = None  # the process's start time (psutil), proof that ``pid`` is still the job
    ended_by: str = ""  # e.g. "killed (signal 9)"
    problem: str = ""  # why a record is ``broken``

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def valid_id(job_id: str) -> bool:
    return isinstance(job_id, str) and bool(JOB_ID.match(job_id)) and ".." not in job_id


def _optional(kind):
    return lambda value: value is None or (isinstance(value, kind) and not isinstance(value, bool))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


CHECKS = {
    "id": lambda v: isinstance(v, str), "command": lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
    "output_dir": lambda v: isinstance(v, str), "kind": lambda v: isinstance(v, str) and v.isidentifier(),
    "gpus": lambda v: isinstance(v, list) and all(isinstance(g, int) and not isinstance(g, bool) for g in v),
    "env": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
    "status": lambda v: v in STATUSES, "pid": _optional(int), "created": _number,
    "started": lambda v: v is None or _number(v), "ended": lambda v: v is None or _number(v),
    "exit_code": _optional(int), "stop_requested": lambda v: v is None or _number(v),
    "pid_started": lambda v: v is None or _number(v), "ended_by": lambda v: isinstance(v, str),
    "problem": lambda v: isinstance(v, str),
}
REQUIRED = ("id", "command", "output_dir", "kind")


def parse_record(data, folder_name: str) -> Job:
    """A Job from a record's JSON; ValueError naming the first problem."""
    if not isinstance(data, dict):
        raise ValueError("job.json is not a JSON object")
    known = {f.name for f in fields(Job)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    missing = [name for name in REQUIRED if name not in data]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    for name, value in data.items():
        if not CHECKS[name](value):
            raise ValueError(f"field {name!r} has a wrong value: {str(value)[:80]!r}")
    if data["id"] != folder_name:
        raise ValueError(f"id {data['id']!r} does not match its folder {folder_name!r}")
    if data.get("status") == "broken":
        raise ValueError("marked broken")
    return Job(**data)


def broken(folder_name: str, reason: str, created: float) -> Job:
    return Job(folder_name, [], "", "unknown", gpus=[], status="broken", created=created, problem=reason)


# ----- the process behind a record ---------------------------------------------------------
def start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied, ValueError):
        return None


def same_process(pid: int | None, started: float | None, marker: str) -> bool:
    """Is ``pid`` still the job's process? Start time when recorded, else its command line holds ``marker``."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if started is not None:
            return abs(process.create_time() - started) <= START_TOLERANCE_S
        return marker in " ".join(process.cmdline())  # records written before start times were kept
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return False  # not ours to signal


def signal_name(code: int) -> str:
    """How a process that ended with status ``code`` (negative: a signal) ended, in words."""
    return f"killed (signal {-code})" if code < 0 else f"exit code {code}"
