"""Train tab: preset (auto-picked by GPU), the main settings, advanced JSON, job control, live plots."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from acestep_train.events import read_events
from acestep_train.gpu import detect_gpus
from acestep_train.presets import builtin_presets, expected_memory, load_preset, pick_preset
from app.context import AppContext
from app.tabs.dataset import checked
from app.tabs.jobs_panel import latest_job, progress_text

BASIC = {"epochs": "--epochs", "rank": "--rank", "lr": "--lr", "batch": "--batch-size",
         "crop": "--max-latent-length", "trigger": "--trigger-word", "preview_every": "--preview-every-steps"}


def gpu_text() -> tuple[str, str]:
    gpus = detect_gpus()
    preset = pick_preset(gpus[0].total_gb if gpus else None)
    if not gpus:
        return "No NVIDIA GPU found: training runs on the CPU (tiny or demo models only).", preset.name
    gpu = gpus[0]
    return f"{gpu.name}: {gpu.total_gb:.1f} GB ({gpu.free_gb:.1f} free), driver {gpu.driver}", preset.name


def estimate_text(preset: str, adapter: str) -> str:
    plan = expected_memory(load_preset(preset), adapter)
    parts = ", ".join(f"{k} {v:.1f}" for k, v in plan.items() if k != "total")
    return f"Full-size model, estimated peak {plan['total']:.1f} GB ({parts}) - analytic, not yet GPU-calibrated"


def start(ctx: AppContext, variant, preset, adapter, tensors, output, resume, advanced, basic: dict) -> str:
    command = ["train", "--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", variant, "--preset", preset,
               "--adapter-type", adapter, "--dataset-dir", str(checked(ctx, tensors)),
               "--output-dir", str(checked(ctx, output))]
    for key, flag in BASIC.items():
        value = basic.get(key)
        if value in (None, "") or (value == 0 and key != "preview_every"):  # blank (shown as 0): the preset's
            continue
        command += [flag, str(int(value) if isinstance(value, float) and value.is_integer() else value)]
    if resume:
        command += ["--resume-from", str(checked(ctx, resume))]
    if basic.get("use_estimate"):
        chosen = checked(ctx, output) / "estimate.json"
        if not chosen.is_file():
            raise gr.Error(f"{chosen}: run 'Estimate layer sensitivity' first")
        command += ["--from-estimate", str(chosen)]
    if advanced.strip():
        config = Path(checked(ctx, output)) / "advanced.json"
        try:
            json.loads(advanced)
        except json.JSONDecodeError as error:
            raise gr.Error(f"Advanced settings are not valid JSON: {error}") from error
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(advanced)
        command += ["--config", str(config)]
    job = ctx.jobs.submit("train", command, checked(ctx, output))
    return f"train job {job.id}: {job.status}"


def estimate(ctx: AppContext, variant: str, tensors: str, output: str) -> str:
    target = checked(ctx, output) / "estimate.json"
    command = ["estimate", "--checkpoint-dir", str(ctx.checkpoint_root), "--model-variant", variant,
               "--dataset-dir", str(checked(ctx, tensors)), "--output", str(target)]
    job = ctx.jobs.submit("estimate", command, checked(ctx, output))
    return f"estimate job {job.id}: {job.status}; when it finishes, tick 'Train the layers the estimate chose'"


def control(ctx: AppContext, what: str) -> str:
    job = latest_job(ctx.jobs, "train")
    if job is None:
        raise gr.Error("No training job.")
    try:
        if what == "stop":
            ctx.jobs.stop(job.id)
        else:
            ctx.jobs.request(job.id, what)
    except ValueError as error:
        raise gr.Error(str(error)) from error
    return f"{what} requested for {job.id}"


def plots(ctx: AppContext):
    """Loss (raw, smoothed) and learning-rate figure, memory figure, latest previews, status."""
    import plotly.graph_objects as go

    job = latest_job(ctx.jobs, "train")
    events = read_events(Path(job.output_dir) / "events.jsonl") if job else []
    steps = [e for e in events if e["event"] == "step"]
    loss = go.Figure()
    loss.add_scatter(x=[e["step"] for e in steps], y=[e["loss"] for e in steps], name="loss", mode="lines")
    loss.add_scatter(x=[e["step"] for e in steps], y=[e["smoothed_loss"] for e in steps], name="smoothed")
    loss.add_scatter(x=[e["step"] for e in steps], y=[e["lr"] for e in steps], name="lr", yaxis="y2")
    loss.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "lr"}, height=320, margin={"t": 20})
    memory = go.Figure()
    gpu = [e for e in events if e["event"] == "gpu"]
    memory.add_scatter(x=[e["step"] for e in gpu], y=[e["gpu_mem_used_gb"] for e in gpu], name="GPU GB")
    memory.update_layout(height=220, margin={"t": 20})
    samples = [e for e in events if e["event"] == "samples"]
    clips = list(samples[-1]["files"].values())[:3] if samples else []
    clips += [None] * (3 - len(clips))
    return [loss, memory, *clips, progress_text(ctx.jobs, "train")]


def checkpoints(ctx: AppContext, output: str):
    root = checked(ctx, output)
    found = [str(root / name) for name in ("best", "final") if (root / name).is_dir()]
    steps = root / "checkpoints"
    if steps.is_dir():
        found += [str(p) for p in sorted(steps.iterdir(), key=lambda p: int(p.name)) if p.name.isdigit()]
    return gr.update(choices=[""] + found, value="")


PROFILE_KEYS = ("variant", "preset", "adapter", "tensors", "output", "advanced")


def save_profile(ctx: AppContext, path: str, values: dict) -> str:
    from acestep_train.atomic import atomic_write_json

    target = checked(ctx, path)
    atomic_write_json(target, values)
    return f"saved the settings to {target}"


def load_profile(ctx: AppContext, path: str, names: list[str]) -> list:
    source = checked(ctx, path)
    try:
        values = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise gr.Error(f"{source}: cannot read the profile ({error})") from error
    unknown = set(values) - set(names)
    if unknown:
        raise gr.Error(f"{source}: unknown settings {sorted(unknown)}")
    return [values.get(name, gr.update()) for name in names] + [f"loaded {source}"]


def build(ctx: AppContext) -> None:
    with gr.Tab("Train"):
        info, auto = gpu_text()
        gr.Markdown(info)
        with gr.Row():
            variant = gr.Textbox(label="Model", value="turbo")
            preset = gr.Dropdown([p.name for p in builtin_presets()], value=auto, label="Preset (auto-picked)")
            adapter = gr.Dropdown(["lora", "lokr"], value="lora", label="Adapter")
        estimate = gr.Markdown(estimate_text(auto, "lora"))
        with gr.Row():
            tensors = gr.Textbox(label="Tensor folder", value=str(ctx.work_root / "tensors"))
            output = gr.Textbox(label="Run folder", value=str(ctx.work_root / "run"))
        basic = {"epochs": gr.Number(label="Epochs", value=10), "rank": gr.Number(label="Rank (0: preset)", value=0),
                 "lr": gr.Number(label="Learning rate (0: preset)", value=0),
                 "batch": gr.Number(label="Batch (0: preset)", value=0),
                 "crop": gr.Number(label="Crop frames (0: preset)", value=0), "trigger": gr.Textbox(label="Trigger word"),
                 "preview_every": gr.Number(label="Preview every N steps (0: off)", value=0)}
        with gr.Accordion("Advanced (every setting, JSON as in run.json)", open=False):
            advanced = gr.Code(language="json", value="", label='e.g. {"optim": {"weight_decay": 0.0}}')
            resume = gr.Dropdown([""], value="", label="Resume from checkpoint", allow_custom_value=True)
            refresh = gr.Button("Find checkpoints")
            with gr.Row():
                estimate_button = gr.Button("Estimate layer sensitivity (gradient Fisher)")
                use_estimate = gr.Checkbox(label="Train the layers the estimate chose", value=False)
        with gr.Row():
            go = gr.Button("Start", variant="primary")
            stop = gr.Button("Stop (saves a checkpoint)", variant="stop")
            save = gr.Button("Save now")
            sample = gr.Button("Sample now")
        with gr.Row():
            profile = gr.Textbox(label="Settings profile file", value=str(ctx.work_root / "profile.json"), scale=3)
            save_button = gr.Button("Save profile")
            load_button = gr.Button("Load profile")
        status = gr.Textbox(label="Status", lines=3)
        loss_plot, memory_plot = gr.Plot(label="Loss and learning rate"), gr.Plot(label="GPU memory")
        with gr.Row():
            clips = [gr.Audio(label=f"Preview {i + 1}", type="filepath") for i in range(3)]
        names = list(basic)
        fields = dict(zip(PROFILE_KEYS, (variant, preset, adapter, tensors, output, advanced)), **basic)
        save_button.click(lambda p, *v: save_profile(ctx, p, dict(zip(fields, v))), [profile, *fields.values()],
                          status, api_name="save_profile")
        load_button.click(lambda p: load_profile(ctx, p, list(fields)), profile, [*fields.values(), status],
                          api_name="load_profile")
        preset.change(estimate_text, [preset, adapter], estimate)
        adapter.change(estimate_text, [preset, adapter], estimate)
        refresh.click(lambda o: checkpoints(ctx, o), output, resume)
        go.click(lambda v, p, a, t, o, r, adv, use, *b: start(ctx, v, p, a, t, o, r, adv,
                                                              {**dict(zip(names, b)), "use_estimate": use}),
                 [variant, preset, adapter, tensors, output, resume, advanced, use_estimate, *basic.values()], status,
                 api_name="start_training")
        estimate_button.click(lambda v, t, o: estimate(ctx, v, t, o), [variant, tensors, output], status,
                              api_name="estimate")
        stop.click(lambda: control(ctx, "stop"), None, status, api_name="stop_training")
        save.click(lambda: control(ctx, "save"), None, status, api_name="save_now")
        sample.click(lambda: control(ctx, "sample"), None, status, api_name="sample_now")
        gr.Timer(3.0).tick(lambda: plots(ctx), outputs=[loss_plot, memory_plot, *clips, status],
                           api_name="train_status")
