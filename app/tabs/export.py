"""Export & merge tab: a run's checkpoint out to ACE-Step / ComfyUI / diffusers (read back and verified),
or merged into the base model's weights as a job."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.status import kind_status
from app.tabs.service import model_picker
from app.train_actions import checkpoints
from app.wiring import named

FORMATS = ["acestep", "comfyui", "diffusers"]


def export(ctx: AppContext, values: dict) -> str:
    """Each chosen format into ``<output>/<format>``; every file is read back by the library."""
    from acestep_train.export.exporter import export_adapter
    from acestep_train.export.load import load_adapter

    if not values["checkpoint"]:
        raise gr.Error("Choose a checkpoint to export (Find checkpoints).")
    if not values["formats"]:
        raise gr.Error("Choose at least one format.")
    source, output = ctx.path(values["checkpoint"], "checkpoint"), ctx.path(values["output"], "export folder")
    lines = []
    try:
        adapter = load_adapter(source)
        if values["trigger"].strip():
            adapter.metadata["trigger_word"] = values["trigger"].strip()
        for fmt in values["formats"]:
            written = export_adapter(adapter, fmt, output / fmt if len(values["formats"]) > 1 else output,
                                     lokr_to_lora=values["lokr_as_lora"] and adapter.kind == "lokr")
            lines.append(f"{fmt}: wrote {written}, read back and verified")
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as error:
        raise gr.Error(f"Export failed: {error}") from error
    return f"{adapter.kind}, {len(adapter.modules)} layers from {source.name}:\n" + "\n".join(lines)


def merge(ctx: AppContext, values: dict) -> str:
    if not values["checkpoint"]:
        raise gr.Error("Choose a checkpoint to merge (Find checkpoints).")
    output = ctx.path(values["merged"], "merged model folder")
    command = ["merge", "--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", values["model"],
               "--adapter", str(ctx.path(values["checkpoint"], "checkpoint")), "--strength", str(values["strength"]),
               "--output-dir", str(output)]
    job = ctx.jobs.submit("merge", command, output)
    return f"merge job {job.id}: {job.status}"


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    with gr.Tab("Export & merge"):
        with gr.Row():
            run = gr.Textbox(label="Run folder", value=str(ctx.work_root / "run"), scale=3)
            find = gr.Button("Find checkpoints")
        fields = {"checkpoint": gr.Dropdown([""], value="", label="Checkpoint (best, final or a step)",
                                            allow_custom_value=True)}
        with gr.Row():
            fields.update(formats=gr.CheckboxGroup(FORMATS, value=["acestep"], label="Formats"),
                          output=gr.Textbox(label="Export folder", value=str(ctx.work_root / "export")),
                          trigger=gr.Textbox(label="Trigger word (metadata)"))
        fields["lokr_as_lora"] = gr.Checkbox(
            False, label="LoKr as LoRA (exact)",
            info="A LoKr's diffusers form loads only with pipe.transformer.load_lora_adapter(..., "
                 "prefix='transformer'). Tick to write its exact LoRA form instead, which pipe.load_lora_weights, "
                 "ACE-Step and ComfyUI load as a plain LoRA (refused, with the rank needed, when over 128).")
        go = gr.Button("Export", variant="primary")
        done = gr.Textbox(label="Export result", lines=4)
        with gr.Row():
            fields.update(model=model_picker(ctx, "Base model"),
                          strength=gr.Slider(0, 2, value=1.0, step=0.05, label="Merge strength"),
                          merged=gr.Textbox(label="Merged model folder", value=str(ctx.work_root / "merged")))
        merge_button = gr.Button("Merge into the base model")
        merge_status = gr.Textbox(label="Merge", lines=4, value=lambda: kind_status(ctx.jobs, "merge"))
    find.click(lambda r: checkpoints(ctx, r), run, fields["checkpoint"])
    go.click(*named(fields, lambda v: export(ctx, v)), done, api_name="export")
    merge_button.click(*named(fields, lambda v: merge(ctx, v)), merge_status, api_name="merge")
    gr.Timer(3.0).tick(lambda: kind_status(ctx.jobs, "merge"), outputs=merge_status, api_name="merge_status",
                       show_progress="hidden")
    return {"run": run, "formats": fields["formats"], "output": fields["output"], "trigger": fields["trigger"],
            "strength": fields["strength"], "merged": fields["merged"]}
