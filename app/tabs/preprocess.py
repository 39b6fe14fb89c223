"""Preprocess tab: songs -> training tensors, as a job (progress, ETA, summary of skipped files)."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.tabs.dataset import checked
from app.tabs.jobs_panel import progress_text


def start(ctx: AppContext, variant: str, source: str, output: str, max_duration: float, normalize: str,
          two_pass: bool, tag: str) -> str:
    source_path, output_path = checked(ctx, source), checked(ctx, output)
    flag = "--dataset-json" if source_path.suffix == ".json" else "--audio-dir"
    command = ["preprocess", "--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", variant,
               flag, str(source_path), "--output-dir", str(output_path), "--max-duration", str(max_duration),
               "--normalize", normalize]
    command += ["--two-pass"] if two_pass else []
    command += ["--tag", tag] if tag.strip() else []
    job = ctx.jobs.submit("preprocess", command, output_path)
    return f"{job.kind} job {job.id}: {job.status}"


def build(ctx: AppContext) -> None:
    with gr.Tab("Preprocess"):
        with gr.Row():
            variant = gr.Textbox(label="Model (turbo, base, sft or a folder name)", value="turbo")
            source = gr.Textbox(label="Song folder or dataset.json")
            output = gr.Textbox(label="Tensor folder", value=str(ctx.work_root / "tensors"))
        with gr.Row():
            max_duration = gr.Number(label="Max seconds per song", value=240)
            normalize = gr.Dropdown(["peak", "lufs", "none"], value="peak", label="Normalize")
            two_pass = gr.Checkbox(label="Two-pass (low VRAM)")
            tag = gr.Textbox(label="Activation tag (overrides the dataset's)")
        go = gr.Button("Preprocess", variant="primary")
        status = gr.Textbox(label="Status", lines=4)
        go.click(lambda *a: start(ctx, *a), [variant, source, output, max_duration, normalize, two_pass, tag], status,
                 api_name="start_preprocess")
        gr.Timer(2.0).tick(lambda: progress_text(ctx.jobs, "preprocess"), outputs=status, api_name="preprocess_status")
