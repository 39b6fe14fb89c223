"""The jobs list every tab shares: polled by a ``gr.Timer`` from disk, so a reloaded page reattaches."""

from __future__ import annotations

import time

import gradio as gr

from acestep_train.events import read_events
from acestep_train.jobs import JobStore
from app.context import AppContext

COLUMNS = ["job", "kind", "status", "started", "exit code"]


def job_rows(store: JobStore) -> list[list]:
    rows = []
    for job in reversed(store.tick()):
        started = time.strftime("%H:%M:%S", time.localtime(job.started)) if job.started else ""
        rows.append([job.id, job.kind, job.status, started, "" if job.exit_code is None else job.exit_code])
    return rows


def latest_job(store: JobStore, kind: str):
    jobs = [job for job in store.jobs() if job.kind == kind]
    return jobs[-1] if jobs else None


def progress_text(store: JobStore, kind: str) -> str:
    """One readable status line for the newest job of ``kind``, with its error if it failed."""
    job = latest_job(store, kind)
    if job is None:
        return f"No {kind} job yet."
    events = read_events(f"{job.output_dir}/events.jsonl")
    last = next((e for e in reversed(events) if e["event"] in ("progress", "step", "summary", "finished")), None)
    line = f"{job.kind} {job.id}: {job.status}"
    if last and last["event"] == "progress":
        line += f" - {last['done']}/{last['total']} ({last['stage']}), ETA {last['eta_s']:.0f} s"
    elif last and last["event"] == "step":
        line += f" - step {last['step']}, loss {last['loss']:.4f}, ETA {last['eta_s']:.0f} s"
    if job.status == "failed":
        line += "\n" + store.log_tail(job.id, 12)
    return line


def build(ctx: AppContext) -> None:
    with gr.Accordion("Jobs", open=False):
        table = gr.Dataframe(headers=COLUMNS, interactive=False, label="Jobs (newest first)")
        with gr.Row():
            job_id = gr.Textbox(label="Job", scale=3)
            stop = gr.Button("Stop", variant="stop", scale=1)
            log_button = gr.Button("Show log", scale=1)
        log = gr.Textbox(label="Log (last lines)", lines=12)
    store = ctx.jobs

    def stop_job(job: str) -> list[list]:
        try:
            store.stop(job.strip())
        except FileNotFoundError as error:
            raise gr.Error(f"No such job: {job!r}") from error
        return job_rows(store)

    gr.Timer(2.0).tick(lambda: job_rows(store), outputs=table, api_name="jobs")
    stop.click(stop_job, inputs=job_id, outputs=table, api_name="stop_job")
    log_button.click(lambda j: store.log_tail(j.strip(), 80), inputs=job_id, outputs=log, api_name="job_log")
