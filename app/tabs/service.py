"""Service tab: checkpoint folders and the models found in them."""

from __future__ import annotations

import gradio as gr

from acestep_train.gpu import detect_gpus
from acestep_train.models.discovery import discover_models
from acestep_train.models.download import ALIASES
from app.context import AppContext

COLUMNS = ["name", "layout", "variant", "official", "parameters (M)", "dtype", "status"]


def model_rows(folders_text: str, ctx: AppContext) -> list[list]:
    """Scan each folder (one per line) and return a table row per model."""
    folders = [line.strip() for line in folders_text.splitlines() if line.strip()]
    if not folders:
        raise gr.Error("Enter at least one checkpoint folder.")
    try:
        roots = [ctx.user_path(folder) for folder in folders]
        models = discover_models(roots)
    except (ValueError, FileNotFoundError) as error:
        raise gr.Error(str(error)) from error
    if not models:
        gr.Warning(f"No ACE-Step 1.5 models found in {', '.join(folders)}.")
    return [
        [
            m.name,
            m.layout,
            m.variant.name or "unknown",
            m.variant.official,
            round(m.parameters / 1e6, 2),
            "/".join(m.dtypes),
            "ok" if m.usable else "; ".join([*(f"missing {x}" for x in m.missing), *m.problems]),
        ]
        for m in models
    ]


def gpu_table() -> list[list]:
    gpus = detect_gpus()
    if not gpus:
        return [["-", "no NVIDIA GPU found", "", "", ""]]
    return [[g.index, g.name, g.total_gb, g.free_gb, g.driver] for g in gpus]


def write_demo(ctx: AppContext) -> str:
    from acestep_train.models.tiny import write_demo_model

    folders = write_demo_model(ctx.checkpoint_root, "original", ("turbo", "base"))
    return f"wrote the tiny demo model: {', '.join(f.name for f in folders)} in {ctx.checkpoint_root}"


def download(ctx: AppContext, model: str) -> str:
    job = ctx.jobs.submit("download", ["download", "--checkpoint-dir", str(ctx.checkpoint_root), "--model", model],
                          ctx.work_root / "downloads")
    return f"download job {job.id}: {job.status}; its log shows the progress (Jobs)"


def build(ctx: AppContext) -> None:
    with gr.Tab("Service"):
        gr.Markdown("Models load inside each job's own process and are freed when it ends: the UI itself never "
                    "holds a model, so there is nothing to unload here.")
        gr.Dataframe(value=gpu_table(), headers=["#", "GPU", "total GB", "free GB", "driver"], interactive=False)
        folders = gr.Textbox(value=str(ctx.checkpoint_root), lines=2, label="Checkpoint folders (one per line)")
        scan = gr.Button("Scan for models", variant="primary")
        table = gr.Dataframe(headers=COLUMNS, label="Models", interactive=False)
        with gr.Row():
            choice = gr.Dropdown(list(ALIASES), value="turbo", label="Official model", allow_custom_value=True)
            get = gr.Button("Download")
            demo = gr.Button("Write the tiny demo model")
        note = gr.Markdown()
        scan.click(lambda text: model_rows(text, ctx), inputs=folders, outputs=table, api_name="scan_models")
        get.click(lambda m: download(ctx, m), choice, note, api_name="download")
        demo.click(lambda: write_demo(ctx), None, note, api_name="demo_model")
