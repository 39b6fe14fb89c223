"""Train tab: GPU preset (auto-picked, listed by title; choosing one fills the fields with its values),
adapter settings, the basic options, every other option as JSON, and one run on screen: the picker
"Run shown" (default: the running one, then held until the user picks another) decides what the monitor
shows and what Stop, Save now and Sample now act on: the buttons carry that run's id, so pressing twice
never reaches a run that started in between."""

from __future__ import annotations

from functools import partial

import gradio as gr

from acestep_train.gpu import detect_gpus
from acestep_train.commands.train import FLAGS
from acestep_train.presets import builtin_presets, pick_preset
from acestep_train.train.config import ADAPTER_TYPES, ATTENTION_TARGETS, BASE_WEIGHTS, OPTIMIZERS, SCHEDULES
from app import train_actions as actions
from app import train_settings as ts
from app.context import AppContext
from app.forms import TrainForm
from app.polls import tab_timer
from app.tabs.service import model_picker
from app.wiring import named

NUMBERS = ("rank", "alpha", "linear_dim", "linear_alpha", "factor", "epochs", "lr", "warmup", "batch", "grad_accum",
           "crop", "save_every", "preview_every", "seed", "preview_seed", "val_every",
           "val_fraction")  # the fields made by number()
FILLED = (*NUMBERS, "targets", "optimizer", "scheduler", "preview_caption", "preview_lyrics",
          "base_weights")  # a preset fills these
ADAPTER_FIELDS = ("rank", "alpha", "linear_dim", "linear_alpha", "factor")


def number(name: str) -> gr.Number:
    """A number field (whole numbers where the CLI wants an int); blank is refused by name at Start."""
    whole = FLAGS[ts.FIELD_FLAGS[name]][1] is int
    return gr.Number(label=ts.LABELS[name], precision=0 if whole else None)


def gpu_line(gpus, preset) -> str:
    if not gpus:
        return f"No NVIDIA GPU found: training runs on the CPU (the demo model only). Preset: **{preset.name}**."
    names = "; ".join(f"#{g.index} {g.name}, {g.total_gb:.0f} GB ({g.free_gb:.1f} free)" for g in gpus)
    return f"{names}. Preset picked for this card: **{preset.name}** ({preset.title})."


def run_section(ctx: AppContext, gpus, preset) -> tuple[dict, gr.Button]:
    with gr.Row():
        fields = {"model": model_picker(ctx),
                  "preset": gr.Dropdown([(p.title, p.name) for p in builtin_presets()], value=preset.name,
                                        label="Preset (fills the fields below)"),
                  "adapter": gr.Dropdown(list(ADAPTER_TYPES), value="lora", label="Adapter"),
                  "gpus": gr.CheckboxGroup([str(g.index) for g in gpus], value=[str(gpus[0].index)] if gpus else [],
                                           label="GPUs (several: one DDP run)", visible=len(gpus) > 1),
                  "nodes": gr.Number(1, precision=0, label=ts.LABELS["nodes"],
                                     info="Several: this machine is node 0; the others join through "
                                          "MASTER_ADDR / MASTER_PORT (README: Training on several machines)")}
    with gr.Row():
        fields.update(tensors=gr.Textbox(label="Tensor folder", value=str(ctx.work_root / "tensors")),
                      output=gr.Textbox(label="Run folder", value=str(ctx.work_root / "run"), scale=2))
        with gr.Column(min_width=160):
            fields["archive_previous"] = gr.Checkbox(
                False, label="Archive the earlier run",
                info="When the Run folder holds an earlier run: move it to archive/<time>/ there, then start fresh")
            new_folder = gr.Button("Use a new run folder", size="sm")
    return fields, new_folder


def adapter_section() -> dict:
    with gr.Row():
        fields = {"targets": gr.Dropdown(list(ATTENTION_TARGETS), label="Attention targets"),
                  "mlp": gr.Checkbox(label="Also adapt the MLP")}
    with gr.Row(visible=True) as lora_row:
        fields.update(rank=number("rank"), alpha=number("alpha"))
    with gr.Row(visible=False) as lycoris_row:  # LoKr and LoHA
        fields.update(linear_dim=number("linear_dim"), linear_alpha=number("linear_alpha"))
        with gr.Row(visible=False) as lokr_row:
            fields.update(factor=number("factor"), decompose_both=gr.Checkbox(label="LoKr: decompose both factors"))
    return fields, {"lora": lora_row, "lycoris": lycoris_row, "lokr": lokr_row}


def basic_section() -> dict:
    with gr.Row():
        fields = {"epochs": number("epochs"), "lr": number("lr"),
                  "optimizer": gr.Dropdown(list(OPTIMIZERS), label="Optimizer"),
                  "scheduler": gr.Dropdown(list(SCHEDULES), label="LR schedule"), "warmup": number("warmup"),
                  "base_weights": gr.Dropdown(list(BASE_WEIGHTS), label="Base weights",
                                              info="int8: frozen DiT in 8-bit (bitsandbytes, NVIDIA GPU only); "
                                                   "saves memory on small cards at a small quality cost")}
    with gr.Row():
        fields.update(batch=number("batch"), grad_accum=number("grad_accum"), crop=number("crop"),
                      save_every=number("save_every"), preview_every=number("preview_every"))
    with gr.Row():
        fields.update(trigger=gr.Textbox(label="Trigger word"), seed=number("seed"), val_every=number("val_every"),
                      val_fraction=number("val_fraction"))
    gr.Markdown("Validation holds out the songs marked in the Dataset tab (else the share above, at least one): "
                "they never train, and every N steps the adapter's loss on them is plotted beside the base "
                "model's; the best adapter then follows it.")
    with gr.Row():  # what the previews sing: written to previews.caption / lyrics / seed
        fields.update(preview_caption=gr.Textbox(label="Preview prompt (caption)", scale=2,
                                                 info="Blank: the trigger word alone; the trigger word is put first"),
                      preview_lyrics=gr.Textbox(label="Preview lyrics", lines=2, scale=2,
                                                info="[Instrumental] for none; blank: the preset's"),
                      preview_seed=number("preview_seed"))
    return fields


def ema_section() -> dict:
    """An EMA of the adapter (``ema.*``): written beside every checkpoint, best/ and as final-ema/."""
    with gr.Row():
        return {"ema": gr.Checkbox(False, label="Keep an EMA of the adapter",
                                   info="A moving average of the weights, saved as final-ema/ and checkpoints' ema/"),
                "ema_decay": gr.Number(0.999, label=ts.EMA_DECAY[0], info="0.999: about the last 1,000 steps"),
                "ema_on_cpu": gr.Checkbox(False, label="EMA on the CPU",
                                          info="Saves 4 bytes of GPU memory per adapter parameter"),
                "ema_previews": gr.Checkbox(False, label="Previews of the EMA too",
                                            info="Each preview also renders the average (twice the preview time)")}


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
        report = gr.Textbox(label="Layer sensitivity", lines=3)
    return fields, {"show": show, "resolved": resolved, "find": find, "estimate": sensitivity, "report": report}


def monitor_section(has_gpu: bool) -> dict:
    with gr.Row():
        buttons = {"start": gr.Button("Start", variant="primary"),
                   "picker": gr.Dropdown([], label="Run shown (Stop, Save now, Sample now act on it)", scale=3),
                   "stop": gr.Button("Stop (saves a checkpoint)", variant="stop"),
                   "save": gr.Button("Save now"), "sample": gr.Button("Sample now")}
    note = gr.Markdown()  # what the last button did; the timer never overwrites it
    status = gr.Textbox(label="Status", lines=5)
    bar = gr.HTML(elem_classes="job-progress-bar")  # the run's steps done, with its ETA
    loss = gr.Plot(label="Loss (left axis) and learning rate (right axis)")
    memory = gr.Plot(label="GPU memory", visible=has_gpu)
    tensorboard = gr.Markdown()  # the command that opens the shown run's tb/ folder in TensorBoard
    with gr.Row():
        clips = [gr.Audio(label="Preview", type="filepath", interactive=False) for _ in range(3)]
    with gr.Accordion("Preview history: every preview of this run, by step and adapter strength", open=True):
        preview_step = gr.Dropdown([], label="Preview step (the players above and the newest row below)",
                                   info="Pick an older step to hear it and the steps before it")
        history = gr.HTML(elem_id="preview-history")
    log = gr.Textbox(label="Log (last lines)", lines=8, max_lines=8, autoscroll=True)
    return {**buttons, "note": note, "status": status, "log": log, "loss": loss, "memory": memory, "clips": clips,
            "bar": bar, "tensorboard": tensorboard, "history": history, "preview_step": preview_step,
            "step_pick": gr.State(None),  # the preview step picked (None: the newest)
            "seen": gr.State(None), "chosen": gr.State(None),  # chosen: the run the user picked (None: default)
            "shown": gr.State(None)}  # shown: the run the monitor showed; the buttons act on chosen, else shown


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    gpus = detect_gpus()
    preset = pick_preset(gpus[0].total_gb if gpus else None)
    with gr.Tab("5 · Train"):
        gr.Markdown("Needs the tensor folder from step 4. " + gpu_line(gpus, preset))
        fields, new_folder = run_section(ctx, gpus, preset)
        adapter, rows = adapter_section()
        fields.update(adapter, **basic_section(), **ema_section())
        size = actions.model_size(ctx, fields["model"].value)
        for name, value in zip(FILLED, actions.preset_fill(preset.name, "lora", list(FILLED), size)):
            fields[name].value = value
        for name, value in zip(ADAPTER_FIELDS[2:], actions.preset_fill(preset.name, "lokr", list(ADAPTER_FIELDS[2:]),
                                                                       size)):
            fields[name].value = value
        defaults = TrainForm.of({name: box.value for name, box in fields.items()})
        memory_note = gr.Markdown(actions.vram(ctx, defaults, size))
        extra, tools = advanced_section()
        tools["new_folder"] = new_folder
        ui = monitor_section(bool(gpus))
        ui["timer"] = tab_timer(3.0)
    fields.update(extra)
    wire(ctx, fields, tools, ui, memory_note)
    wire_presets(ctx, fields, rows)
    return {name: box for name, box in fields.items()
            if name not in ("gpus", "resume", "use_estimate", "archive_previous")}


def wire_presets(ctx: AppContext, fields: dict, rows: dict) -> None:
    """A preset fills every field with its values; the adapter fills only its own fields and shows their row."""
    filled = [fields[name] for name in FILLED]
    chosen = [fields["preset"], fields["adapter"], fields["model"]]

    def fill(names):
        return lambda p, a, m: actions.preset_fill(p, a, list(names), actions.model_size(ctx, m))

    for name in ("preset", "model"):  # an XL model takes the tier's XL settings
        fields[name].input(fill(FILLED), chosen, filled, show_progress="hidden")
    own = [fields[name] for name in ADAPTER_FIELDS]
    fields["adapter"].input(fill(ADAPTER_FIELDS), chosen, own, show_progress="hidden")
    fields["adapter"].change(lambda a: [gr.update(visible=a in ("lora", "dora")),
                                        gr.update(visible=a in ("lokr", "loha")), gr.update(visible=a == "lokr")],
                             fields["adapter"], [rows["lora"], rows["lycoris"], rows["lokr"]])


def press(ctx: AppContext, what: str, chosen: str | None, shown: str | None) -> str:
    """A control button: it acts on the run the user picked, else the one the monitor showed (never a later one)."""
    return actions.control(ctx, what, chosen or shown)


def wire(ctx: AppContext, fields: dict, tools: dict, ui: dict, memory_note) -> None:
    def start(form: TrainForm) -> dict:
        text, job = actions.start(ctx, form)
        return {ui["note"]: text, **({ui["picker"]: gr.update(choices=actions.train_jobs(ctx), value=job.id),
                                      ui["chosen"]: job.id} if job.status != "queued" else {})}

    def form_event(fn):
        return named(fields, fn, TrainForm)

    ui["start"].click(*form_event(start), [ui["note"], ui["picker"], ui["chosen"]], api_name="start_training")
    tools["estimate"].click(*form_event(lambda form: actions.estimate(ctx, form)), ui["note"], api_name="estimate",
                            trigger_mode="once")
    ui["timer"].tick(lambda: actions.estimate_status(ctx), outputs=tools["report"], api_name="estimate_status",
                     show_progress="hidden")
    tools["show"].click(*form_event(lambda form: actions.resolved(ctx, form)[0].to_dict()), tools["resolved"],
                        api_name="resolved_settings")
    tools["new_folder"].click(lambda output: actions.new_run_folder(ctx, output), fields["output"], fields["output"],
                               api_name="new_run_folder")
    tools["find"].click(lambda output: actions.checkpoints(ctx, output, resumable_only=True), fields["output"],
                        fields["resume"], api_name="find_checkpoints")
    for what, api_name in (("stop", "stop_training"), ("save", "save_now"), ("sample", "sample_now")):
        ui[what].click(partial(press, ctx, what), [ui["chosen"], ui["shown"]], ui["note"], api_name=api_name)
    handler, inputs = form_event(lambda form: actions.vram(ctx, form))
    for name in ("model", "preset", "adapter", "targets", "mlp", "rank", "linear_dim", "optimizer", "batch", "crop",
                 "ema", "ema_on_cpu", "base_weights"):
        fields[name].change(handler, inputs, memory_note, show_progress="hidden")
    shown = {name: ui[name] for name in ("picker", "status", "log", "loss", "memory")}

    def tick(seen, selected, shown, step) -> dict:
        result = actions.monitor(ctx, seen, selected, shown, step)
        out = {ui[name]: value for name, value in result.items() if name != "clips"}
        out.update(dict(zip(ui["clips"], result.get("clips", []))))
        return out

    outputs = [*shown.values(), *ui["clips"], ui["seen"], ui["shown"], ui["history"], ui["preview_step"],
               ui["bar"], ui["tensorboard"]]  # a list: API clients get them in this order
    # The timer reads the user's pick from a State, never from the dropdown it redraws (a tick in flight could
    # otherwise put the old run back over a fresh pick).
    ui["timer"].tick(tick, [ui["seen"], ui["chosen"], ui["shown"], ui["step_pick"]], outputs, api_name="train_status",
                     show_progress="hidden")
    ui["picker"].input(lambda selected: [selected, None], ui["picker"], [ui["chosen"], ui["step_pick"]],
                       show_progress="hidden").then(
        lambda selected, held: tick(None, selected, held, None), [ui["chosen"], ui["shown"]], outputs,
        show_progress="hidden")
    ui["preview_step"].input(lambda step: None if step in (None, "") else int(step), ui["preview_step"], ui["step_pick"],
                             show_progress="hidden").then(
        tick, [ui["seen"], ui["chosen"], ui["shown"], ui["step_pick"]], outputs, show_progress="hidden")
