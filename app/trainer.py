"""The trainer app: a ``gr.Blocks`` of tabs, each built by its own module."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.tabs import service

#: Tabs whose library part has not landed yet, and the issue that brings each.
PLANNED_TABS = {
    "Dataset": "dataset scan, sidecars and the sample editor",
    "Auto-label": "captioning backends and librosa analysis",
    "Preprocess": "audio + text to training tensors",
    "Train": "LoRA / LoKr training with a live loss plot",
    "Export & merge": "adapter export and merge",
}


def build_trainer_app(ctx: AppContext) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio — Trainer") as demo:
        gr.Markdown("# ACE-Step Studio — Trainer")
        service.build(ctx)
        for name, what in PLANNED_TABS.items():
            with gr.Tab(name):
                gr.Markdown(f"Not built yet: {what}.")
    return demo
