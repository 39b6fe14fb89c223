"""What the Train tab's buttons and timer do: submit jobs, send controls, read the run for the monitor."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from acestep_train.atomic import atomic_write_text
from acestep_train.events import read_events
from acestep_train.gpu import detect_gpus
from acestep_train.jobs import JobStore
from acestep_train.presets import check_fits, load_preset
from app import train_settings as ts
from app.context import AppContext
from app.errors import UserError
from app.forms import TrainForm
from app.plots import loss_figure, memory_figure, run_steps
from app.progress_bar import bar_html
from app.preview_history import history_html, picked, player_clips, preview_history, run_previews, step_choices
from app.status import blocker, describe, job_events, kind_status, stop_words, submitted
from app.train_nodes import check_nodes, nodes_line, other_nodes_text


def run_paths(ctx: AppContext, form: TrainForm) -> dict:
    return {"checkpoints": ctx.checkpoint_root, "tensors": ctx.path(form.tensors, "tensor folder"),
            "output": ctx.path(form.output, "run folder")}


def estimate_file(paths: dict, form: TrainForm) -> Path | None:
    if not form.use_estimate:
        return None
    chosen = paths["output"] / "estimate.json"
    if not chosen.is_file():
        raise UserError(f"{chosen}: run 'Estimate layer sensitivity' first")
    return chosen


def model_size(ctx: AppContext, model: str) -> str:
    """``xl`` when the picked checkpoint is an XL model, else ``2b`` (also when it cannot be found yet:
    Start then names the missing model)."""
    from acestep_train.models import model_size as size_of

    try:
        return size_of([ctx.checkpoint_root], model)
    except (FileNotFoundError, ValueError):
        return "2b"


def resolved(ctx: AppContext, form: TrainForm, size: str | None = None):
    """(TrainConfig, paths) for these settings; a bad setting, or an XL run its tier cannot hold, is a readable error.
    ``size``: the model's (``model_size``), when the caller has it already (it scans the checkpoint folder)."""
    paths = run_paths(ctx, form)
    size = size or model_size(ctx, form.model)
    try:
        preset = load_preset(form.preset)
        config = ts.resolve(preset.for_model(form.adapter, size), form, paths, estimate_file(paths, form))
        if size == "xl":
            check_fits(preset, config, size)
        return config, paths
    except (ValueError, FileNotFoundError) as error:
        raise UserError(f"Settings: {ts.readable(str(error))}") from error


def gpu_choice(gpus: list[str]) -> tuple[list[int], bool, list[str]]:
    """(GPUs the job occupies, whether it sees only those, extra flags) from the GPU picker."""
    picked = sorted(int(index) for index in gpus)
    if len(picked) <= 1:
        return picked or [0], bool(picked), []
    return picked, True, ["--devices", str(len(picked))]


def check_run_folder(ctx: AppContext, output: Path, resume: Path | None, archive: bool) -> None:
    """Before a run is queued: the folder is not in use, and an earlier run there is resumed or archived."""
    from acestep_train.train.run_folder import RunFolderError, check_free, fresh_start_conflict, next_free_folder

    queued = [job for job in ctx.jobs.jobs() if job.kind == "train" and job.active
              and Path(job.output_dir) == output]
    if queued:
        raise UserError(f"{output}: train job {queued[0].id} ({queued[0].status}) already uses this run folder; "
                        f"wait for it, stop it, or press 'Use a new run folder' ({next_free_folder(output)})")
    try:
        check_free(output)
        found = fresh_start_conflict(output, str(resume) if resume else None, archive)
    except RunFolderError as error:
        raise UserError(str(error)) from error
    if found:
        raise UserError(
            f"{output} holds an earlier run ({', '.join(found)}); a new run there would mix its checkpoints with "
            f"this one's. Choose one: press 'Use a new run folder' ({next_free_folder(output)}), tick 'Archive the "
            "earlier run' (moved to archive/<time>/ in that folder), or resume it (Advanced: Find checkpoints, "
            "then 'Resume from').")


def new_run_folder(ctx: AppContext, output: str) -> str:
    """The next free sibling of the Run folder: ``run`` -> ``run-2`` (what the refusal proposes)."""
    from acestep_train.train.run_folder import earlier_run, next_free_folder

    folder = ctx.path(output, "run folder")
    if not folder.exists() or not earlier_run(folder):
        return str(folder)
    return str(ctx.path(str(next_free_folder(folder)), "run folder"))


def check_split(tensors: Path, config) -> None:
    """The run's validation split, chosen now as the job will choose it: settings remembered from another
    project ("validation every N steps" with no song held out here) are refused before anything is queued."""
    from acestep_train.tensors import Manifest  # imports torch: not before the page is served
    from acestep_train.train.holdout import choose_split

    if not config.validation.enabled:
        return
    try:
        manifest = Manifest.load(tensors)
        choose_split([entry["file"] for entry in manifest.samples.values()], manifest, config.validation)
    except ValueError as error:  # a TensorFormatError too
        raise UserError(f"Settings: {ts.readable(str(error))}") from error


def start(ctx: AppContext, form: TrainForm) -> str:
    config, paths = resolved(ctx, form)  # refuse a bad setting now, not as a failed job
    if not (paths["tensors"] / "manifest.json").is_file():
        raise UserError(f"{paths['tensors']}: no preprocessed tensors (manifest.json); run Preprocess first")
    check_nodes(config.loop.num_nodes)
    check_split(paths["tensors"], config)
    extra, resume = [], None
    if form.resume:
        resume = ctx.path(form.resume, "checkpoint")
        if not (resume / TRAINER_STATE).is_file():
            raise UserError(f"{resume} holds an adapter but no trainer state, so a run cannot resume from it; "
                           "pick a step checkpoint (Find checkpoints)")
    check_run_folder(ctx, paths["output"], resume, form.archive_previous)  # before anything is written or queued
    if form.advanced.strip():
        file = paths["output"] / "advanced.json"
        atomic_write_text(file, form.advanced)
        extra += ["--config", str(file)]
    extra += ["--resume-from", str(resume)] if resume else []
    extra += ["--archive-previous"] if form.archive_previous else []
    estimate = estimate_file(paths, form)
    extra += ["--from-estimate", str(estimate)] if estimate else []
    gpus, pin, flags = gpu_choice(form.gpus)
    args = ts.command(form, paths, extra + flags)
    job = ctx.jobs.submit("train", args, paths["output"], gpus=gpus, pin_gpus=pin)
    text = f"Started train job {job.id} ({config.adapter.type}, {config.loop.epochs} epochs)."
    if job.status == "queued":
        text = (f"Queued train job {job.id}: it waits for {blocker(ctx.jobs, job) or 'its GPU'} to end. "
                f"This tab keeps showing the running one; pick {job.id} under 'Run shown' to watch or cancel it.")
    return text + other_nodes_text(config.loop.num_nodes, args), job


def estimate(ctx: AppContext, form: TrainForm) -> str:
    paths = run_paths(ctx, form)
    command = ["--checkpoint-dir", str(paths["checkpoints"]), "--model-variant", form.model,
               "--dataset-dir", str(paths["tensors"]), "--output", str(paths["output"] / "estimate.json")]
    ctx.refuse_busy("estimate", paths["output"])
    job = ctx.jobs.submit("estimate", command, paths["output"])
    return f"{submitted(ctx.jobs, job)} Its result shows under 'Layer sensitivity' (Advanced)."


def estimate_status(ctx: AppContext) -> str:
    """The newest estimate job in words; once it finished, what it chose and how to use it."""
    text = kind_status(ctx.jobs, "estimate")
    job = ctx.jobs.latest("estimate")
    if job is not None and job.status == "finished":
        text += "\nTick 'Train the layers the estimate chose' to train those layers (same Run folder)."
    return text


def train_jobs(ctx: AppContext) -> list:
    """The run picker's choices: (label, job id), newest first."""
    return [(f"{job.id} ({job.status})", job.id) for job in reversed(ctx.jobs.jobs()) if job.kind == "train"]


def visible_job(ctx: AppContext, selected: str | None):
    """The run the Train tab shows: the one picked (or held), else the running one, else the newest."""
    jobs = [job for job in ctx.jobs.jobs() if job.kind == "train"]
    picked = next((job for job in jobs if job.id == selected), None)
    running = [job for job in jobs if job.status in ("running", "stopping")]
    return picked or (running or jobs or [None])[-1]


CONTROL_WORDS = {"stop": "stop", "save": "save", "sample": "sample"}


def control(ctx: AppContext, what: str, job_id: str | None) -> str:
    """Stop, Save now or Sample now, for the run the tab showed when pressed (``job_id``), never another."""
    return control_job(ctx.jobs, what, job_id)


def control_job(store: JobStore, what: str, job_id: str | None) -> str:
    """``control`` on a job store: acts on ``job_id`` alone; pressing again is harmless and says so."""
    if not job_id:
        raise UserError("No training run shown yet: start one, or pick one under 'Run shown'.")
    try:
        if what == "stop":
            return stop_words(*store.stop(job_id))
        job = store.load(job_id)
        if job.status != "running" or job.kind != "train":
            return f"{job_id} is {job.status}, not running: nothing to {CONTROL_WORDS[what]}."
        store.request(job_id, what)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from error
    return {"save": f"Save asked for {job_id}: it saves a checkpoint after this step.",
            "sample": f"Sample asked for {job_id}: it renders previews after this step."}[what]


TRAINER_STATE = "trainer_state.pt"  # what makes a checkpoint resumable (optimizer, scheduler, counters)


def run_checkpoints(root: Path, resumable_only: bool) -> list[str]:
    """best, final (and final-ema), every complete step checkpoint of a run folder, each followed by the EMA
    saved inside it (only those holding trainer state, if asked: an EMA never does); a folder whose save was
    interrupted, or a symlinked one, is never offered."""
    from acestep_train.atomic_dir import is_complete
    from acestep_train.train.checkpoints import list_checkpoints
    from acestep_train.train.ema import FINAL, FOLDER

    found = []
    for folder in [root / name for name in ("best", "final", FINAL) if is_complete(root / name)] + \
            list_checkpoints(root / "checkpoints").complete:  # ValueError for a symlinked folder
        found += [folder] + ([folder / FOLDER] if (folder / FOLDER).is_dir() else [])
    return [str(p) for p in found if not resumable_only or (p / TRAINER_STATE).is_file()]


def checkpoints(ctx: AppContext, output: str, resumable_only: bool = False):
    """Choices for the export picker (every adapter) or the resume picker (resumable checkpoints)."""
    root = ctx.path(output, "run folder")
    found = run_checkpoints(root, resumable_only)
    if not found:
        gr.Warning(f"No {'resumable ' if resumable_only else ''}checkpoints in {root} yet.")
    final = [p for p in found if Path(p).name == "final"]  # export: the run's chosen adapter first
    return gr.update(choices=["", *found], value=(final or found[-1:] or [""])[0])


def preset_fill(preset: str, adapter: str, names: list[str], size: str = "2b") -> list:
    """The preset's real values for the fields ``names``, in that order (choosing a preset fills them in);
    for an XL model the tier's XL settings (a tier without them keeps its own: Start then refuses it)."""
    chosen = load_preset(preset)
    settings = chosen.for_model(adapter, size) if size == "2b" or chosen.xl is not None else chosen.for_adapter(adapter)
    values = ts.preset_values(settings, adapter)
    return [values[name] for name in names]


def vram(ctx: AppContext, form: TrainForm, size: str | None = None) -> str:
    size = size or model_size(ctx, form.model)
    try:
        config, _ = resolved(ctx, form, size)
    except gr.Error as error:
        return f"VRAM estimate unavailable: {error.message}"
    gpus = detect_gpus()
    return ts.vram_text(config, gpus[0].total_gb if gpus else None, size)


TENSORBOARD_PORT = 6006


def tensorboard_line(run: Path) -> str:
    """How to open the run's TensorBoard logs (``<run>/tb``, written by the trainer): the command, and its page."""
    import shlex

    written = "" if (run / "tb").is_dir() else " (the run writes it once training starts)"
    return (f"**TensorBoard** for this run{written}: run `tensorboard --logdir {shlex.quote(str(run / 'tb'))} "
            f"--port {TENSORBOARD_PORT}` on the studio's machine, then open "
            f"[http://localhost:{TENSORBOARD_PORT}](http://localhost:{TENSORBOARD_PORT}) (through an SSH tunnel "
            "for a remote machine).")


def monitor(ctx: AppContext, seen, selected: str | None, shown: str | None = None, step: int | None = None) -> dict:
    """{name: value} for the run picker, status, log, loss and memory figures, previews, ``seen`` and ``shown``.

    The run shown is the one the user picked (``selected``), else the one shown before (``shown``: held until
    the user picks another, so the buttons never move to a run that started later), else the running one.
    ``step``: the preview step picked in the history (None: the newest). Figures, players and the preview
    history are skipped when nothing changed (``seen``: the job, its status, events size and the picked step).
    """
    job = visible_job(ctx, selected or shown)
    if job is None:
        return {"picker": gr.update(choices=[], value=None), "status": "No training run yet.", "log": "", "seen": None,
                "shown": None}
    picker = gr.update(choices=train_jobs(ctx), value=job.id)
    events_file = Path(job.output_dir) / "events.jsonl"
    log = ctx.jobs.log_tail(job.id, 30)
    current = None if job.active else visible_job(ctx, None)  # a run active now, while this one has ended
    newer = f"{current.id} is {current.status}" if current is not None and current.active else None
    signature = [job.id, job.status, events_file.stat().st_size if events_file.is_file() else 0, newer, step]
    if signature == seen:
        return {"picker": picker, "log": log, "shown": job.id}
    events = read_events(events_file)
    mine = job_events(job, events)
    steps = run_steps(events, mine)
    status = describe(job, mine, log, blocker(ctx.jobs, job))
    nodes = nodes_line(mine)
    status += f"\n{nodes}" if nodes else ""
    history = preview_history(run_previews(events, mine))
    preview = picked(history, step)
    clips = player_clips(preview)
    if any(path and not ctx.served(Path(path)) for _, path in clips):  # the browser fetches only inside the roots
        status += f"\nPreviews are in {Path(job.output_dir) / 'samples'}; add --root for that folder to play them here."
    if newer:
        status += f"\n{newer} now; pick it under 'Run shown' to watch or control it."
    players = [gr.update(value=path if path and ctx.served(Path(path)) else None,
                         label=f"Step {preview.step}, adapter strength {scale}" if scale else "Preview")
               for scale, path in clips]
    return {"picker": picker, "status": status, "log": log,
            "loss": loss_figure(steps, run_steps(events, mine, "validation")),
            "memory": memory_figure(mine, steps), "clips": players, "seen": signature, "shown": job.id,
            "history": history_html(history, step, ctx.served), "bar": bar_html(job, mine),
            "tensorboard": tensorboard_line(Path(job.output_dir)),
            "preview_step": gr.update(choices=step_choices(history), value=preview.step if preview else None)}
