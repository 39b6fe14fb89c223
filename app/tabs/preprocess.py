"""Preprocess tab: songs -> training tensors, as a job (progress, ETA, summary of skipped and failed files)."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.forms import PreprocessForm, number_in
from app.polls import tab_timer
from app.progress_bar import kind_bar, kind_poll
from app.status import kind_status, submitted
from app.tabs.service import model_picker
from app.wiring import named

SOURCES = {"Song folder": "--audio-dir", "dataset.json": "--dataset-json",
           "Tensors from another ACE-Step trainer (.pt)": "--import-pt"}


def preprocess_command(ctx: AppContext, form: PreprocessForm) -> list[str]:
    source = ctx.path(form.source, "song folder or dataset.json")
    command = ["--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", form.model,
               SOURCES[form.source_kind], str(source), "--output-dir", str(ctx.path(form.output)),
               "--max-duration", str(form.max_duration), "--normalize", form.normalize]
    command += ["--two-pass"] if form.two_pass else []
    if form.tag.strip():
        command += ["--tag", form.tag.strip(), "--tag-position", form.tag_position]
    return command


def start(ctx: AppContext, form: PreprocessForm) -> str:
    form = form.but(max_duration=number_in("Max seconds per song", form.max_duration, 1))
    command = preprocess_command(ctx, form)
    ctx.refuse_busy("preprocess", ctx.path(form.output))
    job = ctx.jobs.submit("preprocess", command, ctx.path(form.output))
    return submitted(ctx.jobs, job)


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    with gr.Tab("4 · Preprocess"):
        gr.Markdown("Needs the songs of step 2 and a model; writes the tensor folder step 5 trains on.")
        with gr.Row():
            fields = {"model": model_picker(ctx),
                      "source_kind": gr.Dropdown(list(SOURCES), value="Song folder", label="Source"),
                      "source": gr.Textbox(label="Song folder, dataset.json or .pt folder", value=str(ctx.data_root),
                                           scale=2),
                      "output": gr.Textbox(label="Tensor folder", value=str(ctx.work_root / "tensors"), scale=2)}
        with gr.Row():
            fields.update(max_duration=gr.Number(label="Max seconds per song", value=240),
                          normalize=gr.Dropdown(["peak", "lufs", "none"], value="peak", label="Normalize"),
                          two_pass=gr.Checkbox(label="Two-pass (low VRAM: one model part at a time)"),
                          tag=gr.Textbox(label="Activation tag (overrides the dataset's)"),
                          tag_position=gr.Dropdown(["prepend", "append", "replace"], value="prepend",
                                                   label="Tag position"))
        go = gr.Button("Preprocess", variant="primary")
        note = gr.Markdown()  # what the button did; the timer never overwrites it
        status = gr.Textbox(label="Status", lines=8, value=lambda: kind_status(ctx.jobs, "preprocess"))
        bar = gr.HTML(lambda: kind_bar(ctx.jobs, "preprocess"), elem_classes="job-progress-bar")
        timer = tab_timer(2.0)
    go.click(*named(fields, lambda form: start(ctx, form), PreprocessForm), note, api_name="start_preprocess",
             trigger_mode="once")  # a double click queues one job
    timer.tick(lambda: kind_poll(ctx.jobs, "preprocess"), outputs=[status, bar], api_name="preprocess_status",
               show_progress="hidden")
    return fields
