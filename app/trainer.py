"""The trainer app: a ``gr.Blocks`` of tabs, each built by its own module, plus the shared jobs panel."""

from __future__ import annotations

import gradio as gr

from app import profile
from app.context import AppContext
from app.peer import Peer, header
from app.tabs import autolabel, compare, dataset, export, jobs_panel, preprocess, service, train


def build_trainer_app(ctx: AppContext, captioner: Peer | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Trainer") as demo:
        header("ACE-Step Studio - Trainer", captioner)
        jobs_panel.build(ctx)
        profile_controls = service.build(ctx)
        settings = {"dataset": dataset.build(ctx), "autolabel": autolabel.build(ctx),
                    "preprocess": preprocess.build(ctx), "train": train.build(ctx), "export": export.build(ctx),
                    "compare": compare.build(ctx)}
        profile.wire(ctx, profile_controls, {f"{tab}.{name}": box for tab, fields in settings.items()
                                             for name, box in fields.items()})
    return demo
