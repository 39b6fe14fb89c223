"""Export & merge tab: a run's checkpoint out to ACE-Step / ComfyUI / diffusers (read back and verified),
or merged into the base model's weights as a job."""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.errors import UserError
from app.forms import ExportForm, number_in
from app.polls import tab_timer
from app.status import kind_status, submitted
from app.tabs.service import model_picker
from app.train_actions import checkpoints
from app.wiring import named

FORMATS = ["acestep", "comfyui", "diffusers"]
MERGE_RANGE = (0.0, 2.0)  # the merge strengths offered: 0 = the base model, 1 = as trained
#: how each consumer loads what we write there (format -> text; {file} and {folder} are filled in)
HOW_TO = {
    "acestep": "ACE-Step UI: choose the folder {folder} as the LoRA/LoKr path in its training/inference panel.",
    "comfyui": "ComfyUI: copy {file} into ComfyUI/models/loras/ and pick it in a *LoraLoaderModelOnly* node "
               "(LoRA, LoKr and LoHA alike).",
    "diffusers": {"lora": "diffusers: pipe = AceStepPipeline.from_pretrained(...); "
                          "pipe.load_lora_weights(\"{folder}\", weight_name=\"{name}\")",
                  "lokr": "diffusers: pipe.transformer.load_lora_adapter(\"{file}\", prefix=\"transformer\") "
                          "(AceStepPipeline.load_lora_weights refuses LoKr)"},
}
GUIDE = ("**Which file for which program.** *acestep*: ACE-Step's own UI (a PEFT folder, or LyCORIS for LoKr). "
         "*comfyui*: ComfyUI's LoRA loader. *diffusers*: `AceStepPipeline` in Python. For a LoRA the three files "
         "are the same layout (one file that loads at the right strength everywhere), written once per folder so "
         "each program gets its own; after export each line below says how to load it. **LoHA**: only ComfyUI "
         "loads a LoHA; ACE-Step's UI and diffusers cannot, so they get its exact LoRA form (rank dim x dim, "
         "the same weight change; refused past rank 256, with the rank it needs). **DoRA** loads as DoRA in "
         "ACE-Step and diffusers; ComfyUI gets its own file, computed on the base model (found under the "
         "checkpoint folder), since it reads the magnitude differently.")


def how_to(kind: str, fmt: str, written, base: str = "") -> str:
    from acestep_train.export.dora import CONSUMERS

    if kind == "dora":
        return CONSUMERS[fmt].format(file=written, folder=written.parent, name=written.name, base=base)
    text = HOW_TO[fmt][kind] if isinstance(HOW_TO[fmt], dict) else HOW_TO[fmt]
    return text.format(file=written, folder=written.parent, name=written.name)


def export(ctx: AppContext, form: ExportForm) -> str:
    """Each chosen format into ``<output>/<format>``; every file is read back by the library."""
    from acestep_train.export.load import load_adapter
    from acestep_train.export.model_check import model_for_adapter
    from acestep_train.previews import playback_words

    if not form.checkpoint:
        raise UserError("Choose a checkpoint to export (Find checkpoints).")
    if not form.formats:
        raise UserError("Choose at least one format.")
    source, output = ctx.path(form.checkpoint, "checkpoint"), ctx.path(form.output, "export folder")
    try:
        adapter = load_adapter(source)
        if form.trigger.strip():
            adapter.metadata["trigger_word"] = form.trigger.strip()
        model = model_for_adapter(adapter, source, [str(ctx.checkpoint_root)], required=False)  # export_adapter
        # checks the adapter's shapes against it before anything is written
        lines = export_formats(adapter, form, output, model)
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as error:
        raise UserError(f"Export failed: {error}") from error
    checked = f"shapes checked against {model.name}" if model else "no base model found to check its shapes"
    if adapter.kind == "dora":
        from acestep_train.export.dora import NEAREST_EXACT

        lines.append(NEAREST_EXACT)
    return (f"{adapter.kind}, {len(adapter.modules)} layers from {source.name} ({checked}):\n"
            f"{playback_words(adapter.metadata)} (recorded in each export)\n" + "\n".join(lines))


def playback(ctx: AppContext, checkpoint: str) -> str:
    """The line under the checkpoint picker: the settings its previews were rendered with, so that a turbo
    adapter is not played at base settings (or the reverse) in another program."""
    from acestep_train.export.load import adapter_metadata
    from acestep_train.previews import playback_words

    if not checkpoint:
        return ""
    try:
        return playback_words(adapter_metadata(ctx.path(checkpoint, "checkpoint")))
    except (FileNotFoundError, ValueError) as error:
        return f"Play back with: unknown ({error})"


def loha_note(adapter, fmt: str) -> str:
    """What this consumer does with a LoHA (it cannot load one: the exact LoRA form was written), else nothing."""
    from acestep_train.export.loha_to_lora import CONSUMER_NOTE

    return f" {CONSUMER_NOTE[fmt]}." if adapter.kind == "loha" else ""


def export_formats(adapter, form: ExportForm, output, model=None) -> list[str]:
    """Every folder checked first (nothing written when one is refused), then each format written."""
    from acestep_train.export.exporter import check_format, export_adapter, export_identity
    from acestep_train.export.output_folder import check_output, moved_note

    for fmt in form.formats:
        check_format(adapter, fmt, form.lokr_as_lora and adapter.kind == "lokr", model)
    folders = {fmt: output / fmt if len(form.formats) > 1 else output for fmt in form.formats}
    plans = {fmt: check_output(folder, export_identity(adapter), form.overwrite) for fmt, folder in folders.items()}
    lines = []
    for fmt, plan in plans.items():
        as_lora = form.lokr_as_lora and adapter.kind == "lokr"
        written = export_adapter(adapter, fmt, folders[fmt], lokr_to_lora=as_lora, model=model, plan=plan)
        kind = "lora" if as_lora or (adapter.kind == "loha" and fmt != "comfyui") else adapter.kind
        lines.append(f"{fmt}: wrote {written}, read back and verified{moved_note(plan)}.{loha_note(adapter, fmt)}\n"
                     f"    {how_to(kind, fmt, written, model.name if model else '')}")
    return lines


def merge(ctx: AppContext, form: ExportForm) -> str:
    if not form.checkpoint:
        raise UserError("Choose a checkpoint to merge (Find checkpoints).")
    strength = number_in("Merge strength", form.strength, *MERGE_RANGE)
    output = ctx.path(form.merged, "merged model folder")
    adapter = ctx.path(form.checkpoint, "checkpoint")
    command = ["--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", form.model,
               "--adapter", str(adapter), "--strength", str(strength),
               "--output-dir", str(output)] + (["--overwrite"] if form.overwrite else [])
    ctx.refuse_busy("merge", output)
    job = ctx.jobs.submit("merge", command, output, gpus=[])  # CPU only: never waits behind training
    return f"{submitted(ctx.jobs, job)}\nMerging {adapter} into {form.model} at strength {strength:g}, into {output}."


def run_trigger(ctx: AppContext, run: str, typed: str) -> str:
    """The trigger word the run trained with (its run.json), unless one is typed already."""
    from acestep_train import safe_json

    record = ctx.path(run, "run folder") / "run.json"
    if typed.strip() or not record.is_file():
        return typed
    try:
        config = safe_json.load_file(record).get("config", {})
    except (OSError, ValueError, AttributeError) as error:
        gr.Warning(f"{record}: unreadable ({error}); type the trigger word")
        return typed
    return str(config.get("trigger_word") or "") if isinstance(config, dict) else typed


def find(ctx: AppContext, run: str, typed: str) -> tuple:
    """(checkpoint picker, trigger word) for the run folder."""
    return checkpoints(ctx, run), run_trigger(ctx, run, typed or "")


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    with gr.Tab("6 · Export & merge"):
        gr.Markdown("Needs a run folder from step 5 (press *Find checkpoints*).")
        with gr.Row():
            run = gr.Textbox(label="Run folder", value=str(ctx.work_root / "run"), scale=3)
            find_button = gr.Button("Find checkpoints")
        fields = {"checkpoint": gr.Dropdown([""], value="", allow_custom_value=True,
                                            label="Checkpoint (best, final or a step; final-ema, .../ema: the EMA "
                                                  "of the adapter)")}
        playback_note = gr.Markdown()  # the inference settings the checkpoint's previews used
        with gr.Row():
            fields.update(formats=gr.CheckboxGroup(FORMATS, value=["acestep"], label="Formats"),
                          output=gr.Textbox(label="Export folder", value=str(ctx.work_root / "export")),
                          trigger=gr.Textbox(label="Trigger word (metadata)"))
        gr.Markdown(GUIDE)
        fields["lokr_as_lora"] = gr.Checkbox(
            False, label="LoKr as LoRA (exact)",
            info="A LoKr's diffusers form loads only with pipe.transformer.load_lora_adapter(..., "
                 "prefix='transformer'). Tick to write its exact LoRA form instead, which pipe.load_lora_weights, "
                 "ACE-Step and ComfyUI load as a plain LoRA (refused, with the rank needed, when over 128).")
        fields["overwrite"] = gr.Checkbox(
            False, label="Replace the earlier export",
            info="An export or merge folder holds one adapter. Tick to replace an earlier export of another adapter "
                 "there; files the studio did not write are moved to a '.replaced-<time>' folder beside it.")
        go = gr.Button("Export", variant="primary")
        done = gr.Textbox(label="Export result: the files and how to load them", lines=7)
        with gr.Row():
            fields.update(model=model_picker(ctx, "Base model"),
                          strength=gr.Number(value=1.0, step=0.05, label="Merge strength (0 to 2; 1 = as trained)"),
                          merged=gr.Textbox(label="Merged model folder", value=str(ctx.work_root / "merged")))
        merge_button = gr.Button("Merge into the base model")
        merge_note = gr.Markdown()
        merge_status = gr.Textbox(label="Merge", lines=4, value=lambda: kind_status(ctx.jobs, "merge"))
        timer = tab_timer(3.0)
    find_button.click(lambda r, t: find(ctx, r, t), [run, fields["trigger"]], [fields["checkpoint"], fields["trigger"]],
                      api_name="find_export_checkpoints")
    fields["checkpoint"].change(lambda checkpoint: playback(ctx, checkpoint), fields["checkpoint"], playback_note,
                                api_name="export_playback")
    go.click(*named(fields, lambda form: export(ctx, form), ExportForm), done, api_name="export")
    merge_button.click(*named(fields, lambda form: merge(ctx, form), ExportForm), merge_note, api_name="merge")
    timer.tick(lambda: kind_status(ctx.jobs, "merge"), outputs=merge_status, api_name="merge_status",
               show_progress="hidden")
    return {"run": run, "formats": fields["formats"], "output": fields["output"], "trigger": fields["trigger"],
            "strength": fields["strength"], "merged": fields["merged"]}
