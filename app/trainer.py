"""The trainer app: a ``gr.Blocks`` of tabs, each built by its own module."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.tabs import autolabel, dataset, export, jobs_panel, preprocess, service, train


def build_trainer_app(ctx: AppContext, captioner_url: str | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Trainer") as demo:
        gr.Markdown("# ACE-Step Studio - Trainer" + (f"  \n[Open the captioner]({captioner_url})" if captioner_url else ""))
        jobs_panel.build(ctx)
        service.build(ctx)
        dataset.build(ctx)
        autolabel.build(ctx)
        preprocess.build(ctx)
        train.build(ctx)
        export.build(ctx)
    return demo
