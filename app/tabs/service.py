"""Service tab: checkpoint folders and the models found in them."""

from __future__ import annotations

import gradio as gr

from acestep_train.models.discovery import discover_models
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


def build(ctx: AppContext) -> None:
    with gr.Tab("Service"):
        gr.Markdown("Checkpoint folders (one per line). Both the original and the diffusers layout are found.")
        folders = gr.Textbox(value=str(ctx.checkpoint_root), lines=2, label="Checkpoint folders")
        scan = gr.Button("Scan for models", variant="primary")
        table = gr.Dataframe(headers=COLUMNS, label="Models", interactive=False)
        scan.click(lambda text: model_rows(text, ctx), inputs=folders, outputs=table, api_name="scan_models")
