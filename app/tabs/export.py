"""Export & merge tab: a run's checkpoint out to ACE-Step / ComfyUI / diffusers, or merged into the base."""

from __future__ import annotations

import gradio as gr

from acestep_train.export.exporter import export_adapter
from acestep_train.export.load import load_adapter
from app.context import AppContext
from app.tabs.dataset import checked
from app.tabs.train import checkpoints


def export(ctx: AppContext, adapter_dir: str, fmt: str, output: str, trigger: str) -> str:
    if not adapter_dir:
        raise gr.Error("Choose a checkpoint to export.")
    try:
        adapter = load_adapter(checked(ctx, adapter_dir))
        if trigger.strip():
            adapter.metadata["trigger_word"] = trigger.strip()
        written = export_adapter(adapter, fmt, checked(ctx, output))
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        raise gr.Error(str(error)) from error
    return f"wrote {written}: {adapter.kind}, {len(adapter.modules)} layers, read back and verified"


def merge(ctx: AppContext, adapter_dir: str, variant: str, strength: float, output: str) -> str:
    if not adapter_dir:
        raise gr.Error("Choose a checkpoint to merge.")
    command = ["merge", "--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", variant,
               "--adapter", str(checked(ctx, adapter_dir)), "--strength", str(strength),
               "--output-dir", str(checked(ctx, output))]
    job = ctx.jobs.submit("merge", command, checked(ctx, output))
    return f"merge job {job.id}: {job.status} (see Jobs)"


def build(ctx: AppContext) -> None:
    with gr.Tab("Export & merge"):
        with gr.Row():
            run = gr.Textbox(label="Run folder", value=str(ctx.work_root / "run"))
            find = gr.Button("Find checkpoints")
        chosen = gr.Dropdown([""], value="", label="Checkpoint (best, final or a step)", allow_custom_value=True)
        with gr.Row():
            fmt = gr.Dropdown(["acestep", "comfyui", "diffusers"], value="acestep", label="Format")
            output = gr.Textbox(label="Export folder", value=str(ctx.work_root / "export"))
            trigger = gr.Textbox(label="Trigger word (metadata)")
        go = gr.Button("Export", variant="primary")
        done = gr.Markdown()
        with gr.Row():
            variant = gr.Textbox(label="Base model", value="turbo")
            strength = gr.Slider(0, 2, value=1.0, step=0.05, label="Merge strength")
            merged = gr.Textbox(label="Merged model folder", value=str(ctx.work_root / "merged"))
        merge_button = gr.Button("Merge into the base model")
        merge_status = gr.Markdown()
        find.click(lambda r: checkpoints(ctx, r), run, chosen)
        go.click(lambda *a: export(ctx, *a), [chosen, fmt, output, trigger], done, api_name="export")
        merge_button.click(lambda *a: merge(ctx, *a), [chosen, variant, strength, merged], merge_status,
                           api_name="merge")
