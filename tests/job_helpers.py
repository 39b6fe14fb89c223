"""What the jobs tests share: the fake launcher and waiting for a job to reach a status."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from acestep_train.jobs import Job, JobStore

FAKE = [sys.executable, str(Path(__file__).with_name("fake_job.py"))]


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
