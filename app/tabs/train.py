"""Train tab: GPU preset (auto-picked), adapter settings, the basic options, every other option as JSON,
job control, and the run's monitor (loss and learning rate, GPU memory, previews, log)."""

from __future__ import annotations

from functools import partial

import gradio as gr

from acestep_train.gpu import detect_gpus
from acestep_train.presets import builtin_presets, pick_preset
from acestep_train.train.config import ATTENTION_TARGETS, OPTIMIZERS, SCHEDULES
from app import train_actions as actions
from app.context import AppContext
from app.tabs.service import model_picker
from app.train_settings import PRESET
from app.wiring import named

NUMBERS = ("rank", "alpha", "linear_dim", "linear_alpha", "factor", "epochs", "lr", "warmup", "batch", "grad_accum",
           "crop", "save_every", "preview_every", "seed")  # the fields made by number()


def number(label: str) -> gr.Textbox:
    """A number field whose blank means "the preset's value" (shown as its placeholder)."""
    return gr.Textbox(label=label, placeholder="preset", max_lines=1)


def gpu_line(gpus, preset) -> str:
    if not gpus:
        return f"No NVIDIA GPU found: training runs on the CPU (the demo model only). Preset: **{preset.name}**."
    names = "; ".join(f"#{g.index} {g.name}, {g.total_gb:.0f} GB ({g.free_gb:.1f} free)" for g in gpus)
    return f"{names}. Preset picked for this card: **{preset.name}** ({preset.title})."


def run_section(ctx: AppContext, gpus, preset) -> dict:
    with gr.Row():
        fields = {"model": model_picker(ctx),
                  "preset": gr.Dropdown([p.name for p in builtin_presets()], value=preset.name, label="Preset"),
                  "adapter": gr.Dropdown(["lora", "lokr"], value="lora", label="Adapter"),
                  "gpus": gr.CheckboxGroup([str(g.index) for g in gpus], value=[str(gpus[0].index)] if gpus else [],
                                           label="GPUs (several: one DDP run)", visible=len(gpus) > 1)}
    with gr.Row():
        fields.update(tensors=gr.Textbox(label="Tensor folder", value=str(ctx.work_root / "tensors")),
                      output=gr.Textbox(label="Run folder", value=str(ctx.work_root / "run")))
    return fields


def adapter_section() -> dict:
    with gr.Row():
        fields = {"targets": gr.Dropdown([PRESET, *ATTENTION_TARGETS], value=PRESET, label="Attention targets"),
                  "mlp": gr.Checkbox(label="Also adapt the MLP")}
    with gr.Row(visible=True) as lora_row:
        fields.update(rank=number("LoRA rank"),
                      alpha=number("LoRA alpha"))
    with gr.Row(visible=False) as lokr_row:
        fields.update(linear_dim=number("LoKr dim"),
                      linear_alpha=number("LoKr alpha"),
                      factor=number("LoKr factor (-1: near-square)"),
                      decompose_both=gr.Checkbox(label="LoKr: decompose both factors"))
    return fields, lora_row, lokr_row


def basic_section() -> dict:
    with gr.Row():
        fields = {"epochs": number("Epochs"),
                  "lr": number("Learning rate"),
                  "optimizer": gr.Dropdown([PRESET, *OPTIMIZERS], value=PRESET, label="Optimizer"),
                  "scheduler": gr.Dropdown([PRESET, *SCHEDULES], value=PRESET, label="LR schedule"),
                  "warmup": number("Warmup steps")}
    with gr.Row():
        fields.update(batch=number("Batch"),
                      grad_accum=number("Gradient accumulation"),
                      crop=number("Crop frames, 25 per second"),
                      save_every=number("Save every N epochs"),
                      preview_every=number("Preview every N steps (0: off)"))
    with gr.Row():
        fields.update(trigger=gr.Textbox(label="Trigger word"),
                      seed=number("Seed"))
    return fields


def advanced_section() -> dict:
    with gr.Accordion("Advanced: every setting, resume, layer sensitivity", open=False):
        fields = {"advanced": gr.Code(language="json", value="", label='Settings as JSON, like run.json; e.g. '
                                      '{"optim": {"weight_decay": 0.0}, "timesteps": {"min_snr_gamma": 5}}')}
        show = gr.Button("Show every setting this run would use")
        resolved = gr.JSON(label="Resolved settings (preset, then JSON, then the fields above)")
        with gr.Row():
            fields["resume"] = gr.Dropdown([""], value="", label="Resume from a checkpoint (with its trainer state)",
                                           allow_custom_value=True, scale=3)
            find = gr.Button("Find checkpoints")
        with gr.Row():
            sensitivity = gr.Button("Estimate layer sensitivity (gradient Fisher)")
            fields["use_estimate"] = gr.Checkbox(label="Train the layers the estimate chose", value=False)
    return fields, {"show": show, "resolved": resolved, "find": find, "estimate": sensitivity}


def monitor_section() -> dict:
    with gr.Row():
        buttons = {"start": gr.Button("Start", variant="primary"),
                   "stop": gr.Button("Stop (saves a checkpoint)", variant="stop"),
                   "save": gr.Button("Save now"), "sample": gr.Button("Sample now")}
    status = gr.Textbox(label="Status", lines=5)
    loss, memory = gr.Plot(label="Loss and learning rate"), gr.Plot(label="Memory")
    with gr.Row():
        clips = [gr.Audio(label=f"Latest preview {i + 1}", type="filepath", interactive=False) for i in range(3)]
    log = gr.Textbox(label="Log (last lines)", lines=8, max_lines=8, autoscroll=True)
    return {**buttons, "status": status, "log": log, "loss": loss, "memory": memory, "clips": clips,
            "seen": gr.State(None)}


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    gpus = detect_gpus()
    preset = pick_preset(gpus[0].total_gb if gpus else None)
    with gr.Tab("Train"):
        gr.Markdown(gpu_line(gpus, preset))
        fields = run_section(ctx, gpus, preset)
        adapter, lora_row, lokr_row = adapter_section()
        fields.update(adapter, **basic_section())
        defaults = {name: box.value for name, box in fields.items()}
        memory_note = gr.Markdown(actions.vram(ctx, {**defaults, "advanced": "", "use_estimate": False}))
        extra, tools = advanced_section()
        ui = monitor_section()
    fields.update(extra)
    wire(ctx, fields, tools, ui, memory_note)
    numbers = list(NUMBERS)
    for box, update in zip([fields[n] for n in numbers], actions.hints(preset.name, "lora", numbers)):
        box.placeholder = update["placeholder"]
    for trigger in (fields["preset"], fields["adapter"]):
        trigger.change(lambda p, a: actions.hints(p, a, numbers), [fields["preset"], fields["adapter"]],
                       [fields[n] for n in numbers], show_progress="hidden")
    fields["adapter"].change(lambda a: [gr.update(visible=a == "lora"), gr.update(visible=a == "lokr")],
                             fields["adapter"], [lora_row, lokr_row])
    return {name: box for name, box in fields.items() if name not in ("gpus", "resume", "use_estimate")}


def wire(ctx: AppContext, fields: dict, tools: dict, ui: dict, memory_note) -> None:
    ui["start"].click(*named(fields, lambda v: actions.start(ctx, v)), ui["status"], api_name="start_training")
    tools["estimate"].click(*named(fields, lambda v: actions.estimate(ctx, v)), ui["status"], api_name="estimate")
    tools["show"].click(*named(fields, lambda v: actions.resolved(ctx, v)[0].to_dict()), tools["resolved"],
                        api_name="resolved_settings")
    tools["find"].click(lambda output: actions.checkpoints(ctx, output, resumable_only=True), fields["output"],
                        fields["resume"], api_name="find_checkpoints")
    for what, api_name in (("stop", "stop_training"), ("save", "save_now"), ("sample", "sample_now")):
        ui[what].click(partial(actions.control, ctx, what), None, ui["status"], api_name=api_name)
    handler, inputs = named(fields, lambda v: actions.vram(ctx, v))
    for name in ("preset", "adapter", "targets", "mlp", "rank", "linear_dim", "optimizer", "batch", "crop"):
        fields[name].change(handler, inputs, memory_note, show_progress="hidden")
    outputs = [ui["status"], ui["log"], ui["loss"], ui["memory"], *ui["clips"], ui["seen"]]
    gr.Timer(3.0).tick(lambda seen: actions.monitor(ctx, seen), ui["seen"], outputs, api_name="train_status",
                       show_progress="hidden")
