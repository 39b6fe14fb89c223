"""The captioner app (port 7862): caption / transcribe / analyze a folder as a job, then review song by song.

Models run inside the job's own process and are freed when it ends, so nothing stays loaded in
this UI ("unload" is the job ending). "Download models" fetches ACE-Step's captioner and
transcriber into their folders as a job; "Analyze only" needs no model at all. API keys for the
cloud backends are typed into password fields and reach the job through a private file it
deletes as it reads it: never logged, never saved. The review view reuses the trainer's sidecar
editor.
"""

from __future__ import annotations

import gradio as gr

from app import dataset_ops as ops
from app.caption_jobs import (
    BACKENDS, MODEL_FLAGS, caption_form, check_caption_fields, dir_key, key_fields, label_fields,
    submit_captioning,
)
from app import polls
from app.context import AppContext
from app.peer import Peer, header
from app.progress_bar import kind_bar, kind_poll
from app.project import load_project
from app.polls import tab_timer
from app.status import kind_status
from app.tabs import jobs_panel
from app.wiring import first_cell, named
from captioner.omni_backend import CAPTION_PROMPT, TRANSCRIBE_PROMPT

MODES = {"Caption all": ["librosa", "acestep-captioner"], "Transcribe only": ["acestep-transcriber"],
         "Analyze only": ["librosa"]}
DOWNLOADABLE = ("acestep-captioner", "acestep-transcriber")


def require_downloaded(ctx: AppContext, backends: list[str], dirs: dict[str, str]) -> None:
    """An ACE-Step model that is not in its folder yet stops the start with what to do.

    Each folder is held to the roots before anything in it is looked at: a folder outside them is
    refused with the same words whether or not it holds a model (no existence oracle)."""
    for backend in backends:
        typed = (dirs.get(backend) or "").strip()
        if backend not in DOWNLOADABLE or not typed:
            continue
        folder = ctx.path(typed, f"{backend} model folder")
        if not (folder / "config.json").is_file():
            raise gr.Error(f"{backend} is not downloaded yet ({typed} has no config.json). Press 'Download "
                           "models' first, or choose 'Analyze only', which needs no model.")


def start(ctx: AppContext, values: dict) -> str:
    form = caption_form(values)
    form = form.but(backends=form.backends or MODES[form.mode])  # no backend ticked: the mode's
    ctx.path(form.folder, "song folder")  # the song folder first, as the job command checks it
    require_downloaded(ctx, form.backends, form.model_dirs)
    return submit_captioning(ctx, "caption", form)


def download(ctx: AppContext, values: dict) -> str:
    command = ["--backend", ",".join(DOWNLOADABLE)]  # after ``python -m captioner --download-only``
    for backend in DOWNLOADABLE:
        command += [MODEL_FLAGS[backend], str(ctx.path(values[dir_key(backend)], f"{backend} model folder"))]
    job = ctx.jobs.submit("caption_download", command, ctx.work_root / "downloads" / "captioner", gpus=[])
    return f"download job {job.id}: {job.status}"


def settings_rows(ctx: AppContext, fields: dict) -> None:
    with gr.Row():
        fields.update(only_missing=gr.Checkbox(label="Skip songs already done", value=True),
                      two_pass=gr.Checkbox(label="Two-pass (caption all, free, then transcribe)", value=False),
                      tag=gr.Textbox(label="Activation tag"),
                      quantize=gr.Dropdown(["none", "8bit", "4bit"], value="none", label="Quantize (small GPUs)"))
    with gr.Row():
        fields.update({dir_key(name): gr.Textbox(label=f"{name} model folder",
                                                 value=str(ctx.checkpoint_root / name)) for name in MODEL_FLAGS})
    fields["overwrite"] = gr.Checkbox(label="Overwrite values I typed, wrote by hand or imported", value=False)
    fields.update(label_fields())
    fields.update(key_fields())
    with gr.Accordion("Advanced: task prompts", open=False):
        gr.Markdown("The ACE-Step models were fine-tuned on these exact task texts; leave them empty to use them.")
        fields["caption_prompt"] = gr.Textbox(label="Captioner task", placeholder=CAPTION_PROMPT)
        fields["transcribe_prompt"] = gr.Textbox(label="Transcriber task", placeholder=TRANSCRIBE_PROMPT)


def caption_tab(ctx: AppContext):
    with gr.Tab("Caption"):
        with gr.Row():
            fields = {"folder": gr.Textbox(label="Song folder", scale=3, value=lambda: song_folder(ctx)),
                      "mode": gr.Radio(list(MODES), value="Caption all", label="What")}
        fields["backends"] = gr.CheckboxGroup(BACKENDS, label="Backends (empty: the mode's default)")
        settings_rows(ctx, fields)
        check_caption_fields(fields)
        with gr.Row():
            go = gr.Button("Start", variant="primary")
            get = gr.Button("Download models (ACE-Step captioner + transcriber)")
        status = gr.Textbox(label="Status", lines=6, value=lambda: kind_status(ctx.jobs, "caption"))
        bar = gr.HTML(lambda: kind_bar(ctx.jobs, "caption"), elem_classes="job-progress-bar")
        fetched = gr.Textbox(label="Download", lines=3, value=lambda: kind_status(ctx.jobs, "caption_download"))
        timer = tab_timer(2.0, first_tab=True)  # the page opens on this tab
    go.click(*named(fields, lambda values: start(ctx, values)), status, api_name="caption")
    model_dirs = {dir_key(name): fields[dir_key(name)] for name in DOWNLOADABLE}
    get.click(*named(model_dirs, lambda values: download(ctx, values)), fetched, api_name="download_models")
    timer.tick(lambda: kind_poll(ctx.jobs, "caption"), outputs=[status, bar], api_name="caption_status",
               show_progress="hidden")
    timer.tick(lambda: kind_status(ctx.jobs, "caption_download"), outputs=fetched, api_name="download_status",
               show_progress="hidden")


def song_folder(ctx: AppContext) -> str:
    """The song folder a page opens with: the project's ``songs/`` (chosen in the trainer's Project tab; both
    apps share the state folder), else the first data root."""
    project = load_project(ctx.work_root)
    return str(project.songs if project else ctx.data_root)


def review_scan(ctx: AppContext, folder: str):
    rows, picker, summary = ops.scan(ctx, folder, "caption")
    return {"headers": ops.TABLE_HEADERS, "data": rows}, picker, summary


def review_tab(ctx: AppContext) -> None:
    with gr.Tab("Review"):
        with gr.Row():
            folder = gr.Textbox(label="Song folder", scale=4, value=lambda: song_folder(ctx))
            load = gr.Button("Load")
        summary = gr.Markdown()
        table = gr.Dataframe(value={"headers": ops.TABLE_HEADERS, "data": []}, headers=ops.TABLE_HEADERS,
                             column_count=len(ops.TABLE), interactive=False, max_height=360)
        song = gr.Dropdown(label="Song", choices=[], allow_custom_value=True)
        open_button = gr.Button("Open")
        audio = gr.Audio(type="filepath", interactive=False)
        fields = {name: (gr.Checkbox(label=ops.FIELD_LABELS[name]) if name == "is_instrumental" else
                         gr.Textbox(label=ops.FIELD_LABELS[name], lines=6 if name == "lyrics" else 1))
                  for name in ops.FIELDS}
        save = gr.Button("Save")
        saved = gr.Markdown()
        loaded = gr.State(None)  # what Open showed: Save writes only the fields changed since
    load.click(lambda f: review_scan(ctx, f), folder, [table, song, summary], api_name="review_scan")
    table.select(first_cell, None, song)
    open_button.click(lambda f, n: ops.open_sample(ctx, f, n, "caption"), [folder, song],
                      [audio, *fields.values(), loaded], api_name="review_open")
    save.click(*named({"folder": folder, "song": song, **fields, "loaded": loaded},
                      lambda v: ops.save_sample(ctx, v["folder"], v["song"], "caption", {k: v[k] for k in ops.FIELDS},
                                                v["loaded"])),
               saved, api_name="save_review")


def build_captioner_app(ctx: AppContext, trainer: Peer | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Captioner") as demo:
        header("ACE-Step Studio - Captioner", trainer)
        jobs_panel.build(ctx)
        caption_tab(ctx)
        review_tab(ctx)
        polls.wire_tabs(demo)
    return demo
