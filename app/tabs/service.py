"""Service tab: checkpoint folders and the models in them, downloads, the demo model, GPUs, profiles."""

from __future__ import annotations

import gradio as gr

from acestep_train.gpu import detect_gpus
from acestep_train.models.discovery import discover_models
from acestep_train.models.download import ALIASES, CLAP
from acestep_train.models.variants import OFFICIAL_DIT_REPOS
from app.context import AppContext
from app.errors import UserError
from app.polls import tab_timer
from app.status import kind_status

COLUMNS = ["name", "layout", "variant", "official", "parameters (M)", "dtype", "status"]
NO_MODEL_NOTE = ("Models load inside each job's own process and are freed when the job ends: the UI never holds "
                 "a model, so there is nothing to initialize or unload here.")


def model_rows(ctx: AppContext, folders_text: str) -> list[list]:
    """Scan each folder (one per line) and return a table row per model."""
    folders = [line.strip() for line in folders_text.splitlines() if line.strip()]
    if not folders:
        raise UserError("Enter at least one checkpoint folder.")
    try:
        models = discover_models([ctx.path(folder) for folder in folders])
    except FileNotFoundError as error:
        raise UserError(str(error)) from error
    if not models:
        gr.Warning(f"No ACE-Step 1.5 models found in {', '.join(folders)}.")
    return rows(models)


def rows(models: list) -> list[list]:
    return [[m.name, m.layout, m.variant.name or "unknown", m.variant.official, round(m.parameters / 1e6, 2),
             "/".join(m.dtypes), "ok" if m.usable else "; ".join([*(f"missing {x}" for x in m.missing), *m.problems])]
            for m in models]


def model_names(ctx: AppContext) -> list[str]:
    """Usable models under the checkpoint folder, for the model pickers of the other tabs."""
    if not ctx.checkpoint_root.is_dir():
        return []
    return [m.name for m in discover_models([ctx.checkpoint_root]) if m.usable]


def model_picker(ctx: AppContext, label: str = "Model") -> gr.Dropdown:
    names = model_names(ctx)
    turbo = [name for name in names if "turbo" in name]
    return gr.Dropdown([*names, *(v for v in ("turbo", "base", "sft") if v not in names)],
                       value=(turbo or names or ["turbo"])[0], allow_custom_value=True,
                       label=f"{label} (a folder in {ctx.checkpoint_root.name}/, or turbo / base / sft)")


def gpu_rows() -> list[list]:
    gpus = detect_gpus()
    if not gpus:
        return [["-", "no NVIDIA GPU found: jobs run on the CPU (fine for the demo model)", "", "", ""]]
    return [[g.index, g.name, g.total_gb, g.free_gb, g.driver] for g in gpus]


DOWNLOAD = "download"  # the job kind (the command it runs); the captioner's own downloads are "caption_download"


def write_demo(ctx: AppContext) -> tuple[str, list[list]]:
    """(what was written, the models table again)."""
    from acestep_train.models.tiny import write_demo_model

    folders = write_demo_model(ctx.checkpoint_root, "original", ("turbo", "base"))
    return (f"Wrote the tiny demo model: {', '.join(f.name for f in folders)} in {ctx.checkpoint_root}. "
            "Reload the page to pick it in the other tabs.", rows(discover_models([ctx.checkpoint_root])))


def download(ctx: AppContext, model: str) -> str:
    ctx.refuse_busy(DOWNLOAD, ctx.work_root / "downloads" / model)
    job = ctx.jobs.submit(DOWNLOAD, ["--checkpoint-dir", str(ctx.checkpoint_root), "--model", model],
                          ctx.work_root / "downloads" / model, gpus=[])
    return f"Started downloading {model} into {ctx.checkpoint_root} (job {job.id}); its progress shows below."


def build(ctx: AppContext) -> dict:
    """The tab; returns the profile controls (path, save, load, note) that ``trainer.py`` wires."""
    with gr.Tab("Service"):
        gr.Markdown(NO_MODEL_NOTE)
        gr.Dataframe(value=gpu_rows, headers=["#", "GPU", "total GB", "free GB", "driver"], interactive=False,
                     label="GPUs")
        folders = gr.Textbox(value=str(ctx.checkpoint_root), lines=2, label="Checkpoint folders (one per line)")
        scan = gr.Button("Scan for models", variant="primary")
        table = gr.Dataframe(value=lambda: rows(discover_models([ctx.checkpoint_root])), headers=COLUMNS,
                             label="Models", interactive=False)
        with gr.Row():
            choice = gr.Dropdown([*ALIASES, *OFFICIAL_DIT_REPOS, CLAP], value="turbo",
                                 label="Official model (clap: the listening bench's scorer)")
            get = gr.Button("Download (official repositories only)")
            demo = gr.Button("Write the tiny demo model")
        done = gr.Markdown()  # what the last button did; the timer never overwrites it
        note = gr.Textbox(label="Download", lines=3, value=lambda: kind_status(ctx.jobs, DOWNLOAD))
        with gr.Accordion("Session profile: every tab's settings in one file", open=False):
            with gr.Row():
                profile = {"path": gr.Textbox(label="Profile file", value=str(ctx.work_root / "profile.json"),
                                              scale=3),
                           "save": gr.Button("Save settings"), "load": gr.Button("Load settings")}
            profile["note"] = gr.Markdown()
        scan.click(lambda text: model_rows(ctx, text), folders, table, api_name="scan_models")
        get.click(lambda m: download(ctx, m), choice, done, api_name="download")
        demo.click(lambda: write_demo(ctx), None, [done, table], api_name="demo_model")
        tab_timer(3.0).tick(lambda: kind_status(ctx.jobs, DOWNLOAD), outputs=note, show_progress="hidden")
    return profile
