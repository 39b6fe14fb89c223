"""The captioner app (port 7862): caption / transcribe / analyze a folder as a job, then review song by song.

Models run inside the job's own process and are freed when it ends, so nothing stays loaded in
this UI ("unload" is the job ending). The review view reuses the trainer's sidecar editor.
"""

from __future__ import annotations

import gradio as gr

from app import dataset_ops as ops
from app.caption_jobs import BACKENDS, MODEL_FLAGS, dir_key, submit_captioning
from app.context import AppContext
from app.peer import Peer, header
from app.status import kind_status
from app.tabs import jobs_panel
from app.wiring import first_cell, named

MODES = {"Caption all": ["librosa", "acestep-captioner"], "Transcribe only": ["acestep-transcriber"],
         "Analyze only": ["librosa"]}


def start(ctx: AppContext, values: dict) -> str:
    dirs = {name: values.pop(dir_key(name)) for name in MODEL_FLAGS}
    backends = values.pop("backends") or MODES[values.pop("mode")]
    return submit_captioning(ctx, "caption", {**values, "backends": backends, "model_dirs": dirs})


def caption_tab(ctx: AppContext):
    with gr.Tab("Caption"):
        with gr.Row():
            fields = {"folder": gr.Textbox(label="Song folder", scale=3, value=str(ctx.data_root)),
                      "mode": gr.Radio(list(MODES), value="Caption all", label="What")}
        fields["backends"] = gr.CheckboxGroup(BACKENDS, label="Backends (empty: the mode's default)")
        with gr.Row():
            fields.update(only_missing=gr.Checkbox(label="Skip songs already done", value=True),
                          two_pass=gr.Checkbox(label="Two-pass (caption all, free, then transcribe)", value=False),
                          tag=gr.Textbox(label="Activation tag"),
                          quantize=gr.Dropdown(["none", "8bit", "4bit"], value="none", label="Quantize (small GPUs)"))
        with gr.Row():
            fields.update({dir_key(name): gr.Textbox(label=f"{name} model folder") for name in MODEL_FLAGS})
        fields["overwrite"] = gr.Checkbox(label="Overwrite fields I edited", value=False)
        go = gr.Button("Start", variant="primary")
        status = gr.Textbox(label="Status", lines=6, value=lambda: kind_status(ctx.jobs, "caption"))
    go.click(*named(fields, lambda values: start(ctx, values)), status, api_name="caption")
    gr.Timer(2.0).tick(lambda: kind_status(ctx.jobs, "caption"), outputs=status, api_name="caption_status",
                       show_progress="hidden")
    return fields["folder"]


def review_tab(ctx: AppContext, folder_default: str) -> None:
    with gr.Tab("Review"):
        with gr.Row():
            folder = gr.Textbox(label="Song folder", scale=4, value=folder_default)
            load = gr.Button("Load")
        summary = gr.Markdown()
        table = gr.Dataframe(headers=ops.TABLE, interactive=False, max_height=360)
        song = gr.Dropdown(label="Song", choices=[], allow_custom_value=True)
        open_button = gr.Button("Open")
        audio = gr.Audio(type="filepath", interactive=False)
        fields = {name: (gr.Checkbox(label=name) if name == "is_instrumental" else
                         gr.Textbox(label=name, lines=6 if name == "lyrics" else 1)) for name in ops.FIELDS}
        save = gr.Button("Save")
        saved = gr.Markdown()
    load.click(lambda f: ops.scan(ctx, f, "caption"), folder, [table, song, summary], api_name="review_scan")
    table.select(first_cell, None, song)
    open_button.click(lambda f, n: ops.open_sample(ctx, f, n, "caption"), [folder, song], [audio, *fields.values()],
                      api_name="review_open")
    save.click(*named({"folder": folder, "song": song, **fields},
                      lambda v: ops.save_sample(ctx, v["folder"], v["song"], "caption", {k: v[k] for k in ops.FIELDS})),
               saved, api_name="save_review")


def build_captioner_app(ctx: AppContext, trainer: Peer | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Captioner") as demo:
        header("ACE-Step Studio - Captioner", trainer)
        jobs_panel.build(ctx)
        folder = caption_tab(ctx)
        review_tab(ctx, folder.value)
    return demo
