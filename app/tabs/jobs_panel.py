"""The jobs list every page shares, read from disk on each poll, so a reloaded page reattaches.

The UI process's runner thread moves the queue (``acestep_train.jobs.start_runner``); this
panel only reads the records, stops a job and shows its log.
"""

from __future__ import annotations

import time

import gradio as gr

from acestep_train.gpu import detect_gpus
from acestep_train.jobs import JobStore
from app.context import AppContext
from app.errors import UserError
from app.polls import panel_timer
from app.status import describe, exit_text, job_events, kind_status, stop_words
from app.wiring import first_cell

COLUMNS = ["job", "kind", "status", "started", "ended", "exit code", "GPUs"]


def clock(stamp: float | None) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else ""


def job_rows(store: JobStore, has_gpu: bool = True) -> list[list]:
    """One row per job, newest first; exit codes with their meaning, "CPU" for a job that runs on none."""
    return [[job.id, job.kind, job.status, clock(job.started), clock(job.ended), exit_text(job.exit_code),
             ",".join(map(str, job.gpus)) if has_gpu and job.gpus else "CPU"]
            for job in reversed(store.jobs())]


def job_details(store: JobStore, job_id: str) -> str:
    """Status lines and the last 80 log lines of one job."""
    try:
        job = store.load(job_id.strip())
    except (FileNotFoundError, ValueError) as error:
        raise UserError(f"No such job: {job_id!r}") from error
    return describe(job, job_events(job), store.log_tail(job.id, 40)) + "\n\n--- log ---\n" + store.log_tail(
        job.id, 80)


def stop_job(store: JobStore, job_id: str, now: bool = False, has_gpu: bool = True) -> list[list]:
    """Stop (or, ``now``, end at once) the job picked, and only it; the message says what was done."""
    try:
        job, action = (store.end_now if now else store.stop)(job_id.strip())
    except FileNotFoundError as error:
        raise UserError(f"No such job: {job_id!r}") from error
    except ValueError as error:
        raise UserError(f"No such job: {job_id!r}" if "not a job id" in str(error) else str(error)) from error
    gr.Info(stop_words(job, action))
    return job_rows(store, has_gpu)


def build(ctx: AppContext) -> None:
    store, has_gpu = ctx.jobs, bool(detect_gpus())
    with gr.Accordion("Jobs (they keep running when you close this page)", open=False) as panel:
        table = gr.Dataframe(value=lambda: job_rows(store, has_gpu), headers=COLUMNS, interactive=False,
                             label="Jobs, newest first (click a row to pick it)")
        with gr.Row():
            job_id = gr.Textbox(label="Job", scale=3)
            stop = gr.Button("Stop", variant="stop", scale=1)
            end = gr.Button("End now (no checkpoint)", scale=1)
            show = gr.Button("Show status and log", scale=1)
        details = gr.Textbox(label="Status and log", lines=14, max_lines=30)
    def rows() -> list[list]:
        return job_rows(store, has_gpu)

    panel_timer(panel, 2.0, rows, table).tick(rows, outputs=table, api_name="jobs", show_progress="hidden")
    table.select(first_cell, None, job_id)
    stop.click(lambda job: stop_job(store, job, has_gpu=has_gpu), job_id, table, api_name="stop_job")
    end.click(lambda job: stop_job(store, job, now=True, has_gpu=has_gpu), job_id, table, api_name="end_job")
    show.click(lambda job: job_details(store, job), job_id, details, api_name="job_log")

    def job_status(kind: str) -> str:
        """The status box of the newest job of ``kind`` (what each tab's timer shows), for API clients."""
        return kind_status(store, kind)

    gr.api(job_status, api_name="job_status")
