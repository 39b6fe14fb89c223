"""Project tab (step 1): pick or create the project folder; the other tabs take their folders from it."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.errors import UserError
from app.project import Project, load_project, save_project

STEPS = """**The steps, in order** (each tab's number):
1. **Project**: one folder with `songs/`, `tensors/`, `runs/`, `exports/` inside.
2. **Dataset**: put your songs in `songs/`, press *Scan*; fix what it flags, edit captions.
3. **Auto-label** (optional): BPM, key and captions for the songs of step 2.
4. **Preprocess**: the songs of step 2 become training tensors in `tensors/` (needs a model).
5. **Train**: trains an adapter on the tensors of step 4 into `runs/run/`; listen to its previews.
6. **Export & merge**: the adapter of step 5 as files for ACE-Step, ComfyUI or diffusers, in `exports/`.
"""


def open_project(ctx: AppContext, typed: str) -> tuple[Project, str]:
    """Create (if needed) and remember the project; (project, message)."""
    project = Project(ctx.path(typed, "project folder"))
    if project.folder.exists() and not project.folder.is_dir():
        raise UserError(f"{project.folder} is a file, not a folder.")
    made = project.create()
    save_project(ctx.work_root, project)
    verb = f"Created {', '.join(made)} in" if made else "Opened"
    return project, f"{verb} {project.folder}. Every tab now uses its folders.\n\n{project.describe()}"


def build(ctx: AppContext) -> dict:
    """The tab; returns {"folder", "open", "note"} for ``app.session`` to wire (it fills the other tabs)."""
    project = load_project(ctx.work_root)
    with gr.Tab("1 · Project"):
        gr.Markdown(STEPS)
        with gr.Row():
            folder = gr.Textbox(label="Project folder (new or existing)", scale=4,
                                value=str(project.folder if project else ctx.data_root / "my-project"))
            button = gr.Button("Open or create", variant="primary")
        note = gr.Markdown(project.describe() if project else "No project yet: name a folder and press "
                           "*Open or create*.")
    return {"folder": folder, "open": button, "note": note}
