"""The trainer app: a ``gr.Blocks`` of tabs, each built by its own module."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.tabs import dataset, export, jobs_panel, preprocess, service, train


def build_trainer_app(ctx: AppContext) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Trainer") as demo:
        gr.Markdown("# ACE-Step Studio - Trainer")
        jobs_panel.build(ctx)
        service.build(ctx)
        dataset.build(ctx)
        with gr.Tab("Auto-label"):
            gr.Markdown("Not built yet: captioning backends arrive with the captioner issue. "
                        "Meanwhile `python -m acestep_train analyze-audio FILE...` gives BPM, key and duration.")
        preprocess.build(ctx)
        train.build(ctx)
        export.build(ctx)
    return demo
