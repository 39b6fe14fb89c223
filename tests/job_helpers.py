"""What the jobs tests share: the fake launcher and waiting for a job to reach a status."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from acestep_train.jobs import Job, JobStore

FAKE = [sys.executable, str(Path(__file__).with_name("fake_job.py"))]


def wait_for_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def settle(store: JobStore, job_id: str, statuses: tuple[str, ...], timeout: float = 30) -> Job:
    """Tick the store until the job is in one of ``statuses``; fail naming where it stayed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store.tick()
        job = store.load(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{job_id} stayed {store.load(job_id).status}, wanted {statuses}")


def plant(store: JobStore, job_id: str, record: dict | str) -> Path:
    """Write a record into the jobs folder as an attacker would: straight to disk, not through the store."""
    folder = store.root / job_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(record if isinstance(record, str) else json.dumps(record))
    return folder / "job.json"


def pending_signals(pid: int) -> set[int]:
    """Signals sent to ``pid`` and not yet handled (a blocked SIGTERM stays here), from /proc (Linux)."""
    masks = [line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
             if line.startswith(("SigPnd:", "ShdPnd:"))]
    bits = 0
    for mask in masks:
        bits |= int(mask, 16)
    return {number for number in range(1, 65) if bits >> (number - 1) & 1}
