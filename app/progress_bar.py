"""A job's progress as a bar with its ETA (HTML), for the status polls of the Auto-label, Preprocess, Train and
Compare tabs.

The numbers come from ``status.progress_of`` (the job's own ``progress`` / ``step`` events); the ETA is shown
only while the job runs. Before the first progress event, or for a tab with no job yet, the bar is empty.
"""

from __future__ import annotations

import html

from acestep_train.jobs import Job, JobStore
from app.status import duration, job_events, kind_status, progress_of

EMPTY = "<div class='job-progress' data-state='none'></div>"


def bar_html(job: Job | None, events: list[dict]) -> str:
    """The bar of ``job`` from its events: ``done/total unit``, percent, and the ETA while it runs."""
    progress = progress_of(events) if job is not None else None
    if progress is None:
        return EMPTY
    percent = round(progress.fraction * 100)
    words = f"{progress.done}/{progress.total} {progress.unit}".strip() + f" · {percent}%"
    if job.active and progress.eta_s is not None:
        words += f" · ETA {duration(progress.eta_s)}"
    elif not job.active:
        words += f" · {job.status}"
    label = html.escape(f"{job.kind} {job.id}: {words}")
    return (f"<div class='job-progress' data-state='{html.escape(job.status)}' role='progressbar' "
            f"aria-valuemin='0' aria-valuemax='100' aria-valuenow='{percent}' aria-label='{label}' "
            "style='border:1px solid #8884;border-radius:6px;overflow:hidden;position:relative;height:1.6em'>"
            f"<div style='width:{percent}%;height:100%;background:#4a8fe7aa'></div>"
            "<span style='position:absolute;inset:0;text-align:center;line-height:1.6em;font-size:0.9em'>"
            f"{label}</span></div>")


def kind_bar(store: JobStore, kind: str) -> str:
    """The bar of the newest job of ``kind`` (what a tab's status box shows)."""
    job = store.latest(kind)
    return bar_html(job, job_events(job)) if job is not None else EMPTY


def kind_poll(store: JobStore, kind: str) -> list[str]:
    """A tab's poll: [its status box, its progress bar], for the newest job of ``kind``."""

    return [kind_status(store, kind), kind_bar(store, kind)]
