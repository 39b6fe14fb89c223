"""Job records (``<state folder>/jobs/<id>/job.json``): signed, schema-checked, and their process verified.

A record is the studio's own: it lives in the studio's state folder (outside every root), it
carries an HMAC of its fields (``job_auth``), its id must be a plain name (no separators, no
``..``) equal to its folder's, and every field must have its type. It holds no program and no
environment: its ``kind`` names what runs (``KINDS``) and ``args`` are that command's arguments.
A record that fails a check is shown as a ``broken`` job naming the reason; it is never started
or signalled, and it never breaks the job list, a download or a status poll.

A job's process is recognised by a per-job random token that the studio passes in the child's
environment (``ACESTEP_STUDIO_JOB_TOKEN``) and keeps only in the signed record: before any
signal, the live process must show that token (``psutil`` ``Process.environ()``), and its start
time must match. A pid alone, or a start time copied into a file, proves nothing.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass, field, fields

import psutil

from acestep_train.job_auth import verified

ACTIVE = ("queued", "running", "stopping")
RUNNING = ("running", "stopping")
STATUSES = (*ACTIVE, "finished", "failed", "stopped", "broken")
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}(\.[A-Za-z0-9_-]+)*$")  # no "/", no "..", no "\\"
START_TOLERANCE_S = 0.05
TOKEN_ENV = "ACESTEP_STUDIO_JOB_TOKEN"
MAX_ARGS, MAX_ARG_CHARS = 512, 8192
#: What each kind of job runs: the program (``python -m <program>``) and its leading arguments; a
#: record's ``args`` follow them. Nothing else can be run through a record.
KINDS: dict[str, tuple[str, ...]] = {
    "preprocess": ("acestep_train", "preprocess"), "train": ("acestep_train", "train"),
    "estimate": ("acestep_train", "estimate"), "merge": ("acestep_train", "merge"),
    "compare": ("acestep_train", "compare"), "download": ("acestep_train", "download"),
    "caption": ("captioner",), "autolabel": ("captioner",), "caption_download": ("captioner", "--download-only"),
}


@dataclass
class Job:
    id: str
    args: list[str]  # the arguments after the kind's command (``KINDS``)
    output_dir: str  # where the job writes events.jsonl
    kind: str  # a key of KINDS
    gpus: list[int] = field(default_factory=lambda: [0])  # GPUs it occupies; [] = none
    pin_gpus: bool = False  # the job sees only its GPUs (CUDA_VISIBLE_DEVICES set from ``gpus``)
    status: str = "queued"  # queued | running | stopping | finished | failed | stopped | broken
    pid: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    stop_requested: float | None = None
    pid_started: float | None = None  # the process's start time (psutil)
    token: str = ""  # the job process's secret token (in its environment), set when it starts
    ended_by: str = ""  # e.g. "killed (signal 9)"
    problem: str = ""  # why a record is ``broken``

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def valid_id(job_id: str) -> bool:
    return isinstance(job_id, str) and bool(JOB_ID.match(job_id)) and ".." not in job_id


def valid_args(args) -> bool:
    return (isinstance(args, list) and len(args) <= MAX_ARGS
            and all(isinstance(a, str) and len(a) <= MAX_ARG_CHARS and "\x00" not in a for a in args))


def _optional(kind):
    return lambda value: value is None or (isinstance(value, kind) and not isinstance(value, bool))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


CHECKS = {
    "id": lambda v: isinstance(v, str), "args": valid_args,
    "output_dir": lambda v: isinstance(v, str), "kind": lambda v: v in KINDS,
    "gpus": lambda v: isinstance(v, list) and all(isinstance(g, int) and not isinstance(g, bool) for g in v),
    "pin_gpus": lambda v: isinstance(v, bool),
    "status": lambda v: v in STATUSES, "pid": _optional(int), "created": _number,
    "started": lambda v: v is None or _number(v), "ended": lambda v: v is None or _number(v),
    "exit_code": _optional(int), "stop_requested": lambda v: v is None or _number(v),
    "pid_started": lambda v: v is None or _number(v),
    "token": lambda v: isinstance(v, str) and len(v) <= 64, "ended_by": lambda v: isinstance(v, str),
    "problem": lambda v: isinstance(v, str),
}
REQUIRED = ("id", "args", "output_dir", "kind")


def parse_record(data, folder_name: str, key: bytes) -> Job:
    """A Job from a record's JSON, its signature checked first; ValueError naming the first problem."""
    data = verified(data, key)
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


def same_process(pid: int | None, started: float | None, token: str) -> bool:
    """Is ``pid`` the job's live process: its start time as recorded, and ``token`` in its environment?"""
    if not pid or not token:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if started is not None and abs(process.create_time() - started) > START_TOLERANCE_S:
            return False
        return hmac.compare_digest(process.environ().get(TOKEN_ENV, ""), token)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False  # gone, or not ours to signal


def signal_name(code: int) -> str:
    """How a process that ended with status ``code`` (negative: a signal) ended, in words."""
    return f"killed (signal {-code})" if code < 0 else f"exit code {code}"
