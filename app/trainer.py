"""The trainer app: a ``gr.Blocks`` of numbered tabs (one module each), the shared jobs panel, and the
session wiring (project, settings kept across reloads, profiles)."""

from __future__ import annotations

import gradio as gr

from app import browser_js, polls, profile, session
from app.context import AppContext
from app.next_step import add_next_buttons
from app.peer import Peer, header
from app.tabs import autolabel, compare, dataset, export, jobs_panel, preprocess, project, service, train


def build_trainer_app(ctx: AppContext, captioner: Peer | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Trainer") as demo:
        header("ACE-Step Studio - Trainer", captioner)
        jobs_panel.build(ctx)
        project_controls = project.build(ctx)
        settings = {"dataset": dataset.build(ctx), "autolabel": autolabel.build(ctx),
                    "preprocess": preprocess.build(ctx), "train": train.build(ctx), "export": export.build(ctx),
                    "compare": compare.build(ctx)}
        profile_controls = service.build(ctx)
        add_next_buttons(demo)
        polls.wire_tabs(demo)
        fields = {f"{tab}.{name}": box for tab, boxes in settings.items() for name, box in boxes.items()}
        profile.wire(ctx, profile_controls, fields)
        session.wire(demo, ctx, project_controls, fields)
        demo.load(None, js=browser_js.ON_LOAD)  # back to the tab the user was on; warn before losing an edit
    return demo
