"""Auto-label tab: the captioner's backends over a song folder, as a job.

Librosa gives BPM and key with no model; the cloud backends (keys from GEMINI_API_KEY,
OPENAI_API_KEY, ELEVENLABS_API_KEY in the environment the studio was started with) give
captions and lyrics. Fields you edited are kept unless you tick *Overwrite*.
"""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.tabs.dataset import checked
from app.tabs.jobs_panel import progress_text

BACKENDS = ["librosa", "gemini", "openai-whisper", "elevenlabs-scribe"]  # local whisper: python -m captioner --whisper-dir


def start(ctx: AppContext, folder: str, backends: list[str], only_missing: bool, overwrite: bool, tag: str) -> str:
    if not backends:
        raise gr.Error("Choose at least one backend.")
    path = checked(ctx, folder)
    output = ctx.work_root / "autolabel"
    command = ["captioner", "--audio-dir", str(path), "--backend", ",".join(backends),
               "--events", str(output / "events.jsonl")]
    command += ["--only-missing"] if only_missing else []
    command += ["--overwrite"] if overwrite else []
    command += ["--tag", tag] if tag.strip() else []
    job = ctx.jobs.submit("autolabel", command, output)
    return f"auto-label job {job.id}: {job.status}"


def build(ctx: AppContext) -> None:
    with gr.Tab("Auto-label"):
        gr.Markdown(__doc__.split("\n\n", 1)[1])
        with gr.Row():
            folder = gr.Textbox(label="Song folder", value=str(ctx.settings.roots[1] if len(ctx.settings.roots) > 1
                                                                  else ctx.work_root), scale=4)
            backends = gr.CheckboxGroup(BACKENDS, value=["librosa"], label="Backends")
        with gr.Row():
            only_missing = gr.Checkbox(label="Only songs missing these fields", value=True)
            overwrite = gr.Checkbox(label="Overwrite my edits", value=False)
            tag = gr.Textbox(label="Activation tag (optional)")
        go = gr.Button("Label", variant="primary")
        status = gr.Textbox(label="Status", lines=6)
        go.click(lambda *a: start(ctx, *a), [folder, backends, only_missing, overwrite, tag], status,
                 api_name="autolabel")
        gr.Timer(2.0).tick(lambda: progress_text(ctx.jobs, "autolabel"), outputs=status, api_name="autolabel_status")
