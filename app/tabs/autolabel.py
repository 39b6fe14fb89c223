"""Auto-label tab: the captioner's backends over a song folder, as a job.

Librosa gives BPM, key and duration with no model; the ACE-Step captioner / transcriber and
Whisper run from a local model folder (the captioner app downloads them); the cloud backends
take the keys typed under *API keys* (for this run only: never logged, never saved), else
GEMINI_API_KEY, OPENAI_API_KEY, ELEVENLABS_API_KEY from the environment the studio was started
with. Values you typed or imported are kept unless you tick *Overwrite my edits*; values the studio
wrote are replaced by a newer run, or by the other source where you chose whose BPM / key / meter
wins. A measured value below the minimum confidence is not written (the log says which).
"""

from __future__ import annotations

import gradio as gr

from app.caption_jobs import (
    BACKENDS, MODEL_FLAGS, caption_form, check_caption_fields, dir_key, key_fields, label_fields,
    submit_captioning,
)
from app.context import AppContext
from app.polls import tab_timer
from app.progress_bar import kind_bar, kind_poll
from app.status import kind_status
from app.wiring import named


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    with gr.Tab("3 · Auto-label"):
        gr.Markdown(__doc__.split("\n\n", 1)[1])
        with gr.Row():
            fields = {"folder": gr.Textbox(label="Song folder", value=str(ctx.data_root), scale=3),
                      "backends": gr.CheckboxGroup(BACKENDS, value=["librosa"], label="Backends", scale=3)}
        with gr.Row():
            model_dirs = {name: gr.Textbox(label=f"{name} model folder") for name in MODEL_FLAGS}
        with gr.Row():
            fields.update(only_missing=gr.Checkbox(label="Only songs missing these fields", value=True),
                          overwrite=gr.Checkbox(label="Overwrite my edits", value=False),
                          two_pass=gr.Checkbox(label="Two-pass (caption all, free the model, then lyrics)"),
                          quantize=gr.Dropdown(["none", "8bit", "4bit"], value="none", label="Quantize local models"),
                          tag=gr.Textbox(label="Activation tag (optional)"))
        fields.update(label_fields())
        keys = key_fields()
        go = gr.Button("Label", variant="primary")
        note = gr.Markdown()  # what the button did; the timer never overwrites it
        status = gr.Textbox(label="Status", lines=6, value=lambda: kind_status(ctx.jobs, "autolabel"))
        bar = gr.HTML(lambda: kind_bar(ctx.jobs, "autolabel"), elem_classes="job-progress-bar")
        timer = tab_timer(2.0)
    inputs = {**fields, **{dir_key(name): box for name, box in model_dirs.items()}, **keys}
    check_caption_fields(inputs)

    go.click(*named(inputs, lambda values: submit_captioning(ctx, "autolabel", caption_form(values))), note,
             api_name="autolabel")
    timer.tick(lambda: kind_poll(ctx.jobs, "autolabel"), outputs=[status, bar], api_name="autolabel_status",
               show_progress="hidden")
    # the session profile: everything but the keys
    return {**fields, **{dir_key(name): box for name, box in model_dirs.items()}}
