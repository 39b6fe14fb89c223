"""Compare tab (the listening bench): render a run's checkpoints x strengths as a job, listen to
the grid with its scores (sortable, ``app/compare_grid.py``), mark a favourite, export it at that
strength with its scores in the metadata. The library does the work (``acestep_train.compare``);
the job runs ``python -m acestep_train compare --spec`` (render, then CLAP scores when the weights are there)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from acestep_train import safe_json
from app import compare_grid
from app.context import AppContext
from app.errors import UserError
from app.forms import CompareForm, number_in
from app.polls import tab_timer
from app.progress_bar import kind_bar, kind_poll
from app.status import kind_status
from app.tabs.service import model_picker
from app.wiring import named

FORMATS = ["acestep", "comfyui", "diffusers"]


def _numbers(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.replace(",", " ").split())
    except ValueError as error:
        raise gr.Error(f"{what}: numbers separated by spaces, e.g. 0 0.5 1") from error


def _tokens(ctx: AppContext, text: str) -> tuple[str, ...]:
    """Checkpoint tokens; one naming a folder is confined to the roots like every typed path."""
    from acestep_train.compare.spec import is_run_token

    return tuple(token if is_run_token(token) else str(ctx.path(token, "checkpoint folder")) for token in text.split())


def grid_spec(ctx: AppContext, form: CompareForm):
    from acestep_train.compare.spec import GridSpec, PromptSpec

    seconds = number_in("Seconds per clip", form.duration, 1)
    prompts = tuple(PromptSpec(caption, lyrics, seconds) for caption, lyrics in form.prompts())
    run = ctx.path(form.run, "run folder")
    if not run.is_dir():
        raise UserError(f"Run folder: {run} does not exist; train a run first (step 5) or name its folder.")
    clap = str(ctx.path(form.clap.strip(), "CLAP folder")) if form.clap.strip() else None
    reference = str(ctx.path(form.reference.strip(), "reference songs folder")) if form.reference.strip() else None
    try:
        return GridSpec(str(run), (str(ctx.checkpoint_root),), form.model,
                        str(ctx.path(form.output, "grid folder")), _tokens(ctx, form.checkpoints),
                        _numbers(form.strengths, "Strengths"), prompts, int(form.seed or 0),
                        int(form.steps) if form.steps else None, clap=clap, reference=reference)
    except ValueError as error:
        raise gr.Error(str(error)) from error


def start(ctx: AppContext, form: CompareForm) -> str:
    from acestep_train.atomic import atomic_write_json
    from acestep_train.compare.spec import resolve_checkpoints

    spec = grid_spec(ctx, form)
    try:
        resolve_checkpoints(spec.run, spec.checkpoints)  # refused now, not as a failed job
    except (FileNotFoundError, ValueError) as error:
        raise UserError(f"Checkpoints: {error}") from error
    output = Path(spec.output)
    ctx.refuse_busy("compare", output)
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_json(output / "grid_spec.json", spec.to_json())
    job = ctx.jobs.submit("compare", ["--spec", str(output / "grid_spec.json")], output)
    return f"compare job {job.id}: {job.status}"


def rescore(ctx: AppContext, typed: str, clap: str, reference: str) -> tuple[str, str]:
    """Score a grid already rendered (e.g. after downloading CLAP) as a job; the grid shows again when it ends."""
    folder = ctx.path(typed, "grid folder")
    if not (folder / "grid.json").is_file():
        raise UserError(f"Grid folder: {folder} holds no grid.json yet; render the grid first.")
    args = ["--score-only", str(folder)]
    if clap.strip():
        args += ["--clap", str(ctx.path(clap.strip(), "CLAP folder"))]
    if reference.strip():
        args += ["--reference", str(ctx.path(reference.strip(), "reference songs folder"))]
    ctx.refuse_busy("compare", folder)
    job = ctx.jobs.submit("compare", args, folder)
    return f"scoring job {job.id}: {job.status}", ""  # "": the finished job's grid counts as new


def finished_grid(ctx: AppContext, shown: str) -> str | None:
    """The newest finished compare job's grid.json, when it is not the one shown yet."""
    job = ctx.jobs.latest("compare")
    if job is None or job.status != "finished":
        return gr.skip()
    grid = str(Path(job.output_dir) / "grid.json")
    return grid if grid != shown and Path(grid).is_file() else gr.skip()


def cell_name(cell: dict) -> str:
    return f"{cell['checkpoint']} @ {cell['strength']:g} (prompt {cell['prompt'] + 1})"


def load_grid(ctx: AppContext, typed: str) -> str:
    path = ctx.path(typed, "grid folder")
    path = path / "grid.json" if path.is_dir() else path
    if not path.is_file():
        raise gr.Error(f"{path}: no grid.json here yet (render the grid first)")
    return str(path)


def cell_choices(grid_path: str):
    if not grid_path:
        return gr.update(choices=[], value=None)
    cells = safe_json.load_file(grid_path)["cells"]
    names = [cell_name(c) for c in cells if c["strength"] != 0]
    return gr.update(choices=names, value=names[0] if names else None)


def _cell(grid_path: str, name: str) -> dict:
    if not grid_path or not name:
        raise gr.Error("Render or load a grid, then choose a cell.")
    cells = safe_json.load_file(grid_path)["cells"]
    match = [c for c in cells if cell_name(c) == name]
    if not match:
        raise gr.Error(f"{name}: not a cell of {grid_path}")
    return match[0]


def favourite(grid_path: str, name: str) -> str:
    from acestep_train.compare.choose import mark_favourite

    cell = _cell(grid_path, name)
    chosen = mark_favourite(grid_path, cell["checkpoint"], cell["strength"], cell["prompt"])
    return f"favourite: {chosen['checkpoint']} at strength {chosen['strength']:g} ({chosen['path']})"


def export_cell(ctx: AppContext, grid_path: str, name: str, fmt: str, folder: str) -> str:
    from acestep_train.compare.choose import cell_scores, export_choice

    cell = _cell(grid_path, name)
    grid = safe_json.load_file(grid_path)
    source = next(c["path"] for c in grid["checkpoints"] if c["label"] == cell["checkpoint"])
    try:
        written, error = export_choice(source, cell["strength"], fmt, ctx.path(folder, "export folder"),
                                       scores=cell_scores(grid, cell))
    except (ValueError, FileNotFoundError, RuntimeError) as failure:
        raise gr.Error(f"Export failed: {failure}") from failure
    return (f"wrote {written}: {cell['checkpoint']} with strength {cell['strength']:g} baked in, its bench "
            f"scores in the metadata; read back, deltas within {error:.1e}")


def _inputs(ctx: AppContext) -> dict:
    with gr.Row():
        fields = {"run": gr.Textbox(label="Run folder", value=str(ctx.work_root / "run"), scale=2),
                  "model": model_picker(ctx, "Base model"),
                  "checkpoints": gr.Textbox(label="Checkpoints (best, final, every:N, step numbers); the EMA as "
                                                  "its own row: final-ema, best-ema, 400-ema", value="best final"),
                  "strengths": gr.Textbox(label="Strengths", value="0 0.5 0.75 1 1.25")}
    for i in (1, 2, 3):
        with gr.Row():
            fields[f"caption{i}"] = gr.Textbox(label=f"Prompt {i} caption (with the trigger word)" +
                                               ("" if i == 1 else ", optional"), scale=2)
            fields[f"lyrics{i}"] = gr.Textbox(label=f"Prompt {i} lyrics", lines=1, scale=2)
    with gr.Row():
        fields.update(duration=gr.Number(label="Seconds per clip", value=10),
                      seed=gr.Number(label="Seed (fixed for every cell)", value=42, precision=0),
                      steps=gr.Number(label="Steps (blank: the variant's)", value=None, precision=0),
                      output=gr.Textbox(label="Grid folder", value=str(ctx.work_root / "compare"), scale=2))
    with gr.Row():
        fields.update(clap=gr.Textbox(label="CLAP folder for scores (blank: clap-htsat-unfused in the checkpoint "
                                            "folder; Service tab: download 'clap')"),
                      reference=gr.Textbox(label="Reference songs folder (blank: the run's training songs)"))
    return fields


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    with gr.Tab("Compare"):
        gr.Markdown("Listen to checkpoints x strengths from one seed. Strength 0 is the base model; "
                    "distance = how far a clip's spectrum is from the base (0: no change; it is not a quality score). "
                    "With CLAP: style = similarity to your training songs, adherence = similarity to the prompt, "
                    "KAD = a checkpoint's distance to your songs (lower: closer).")
        fields = _inputs(ctx)
        with gr.Row():
            go = gr.Button("Render grid", variant="primary")
            show = gr.Button("Show grid from folder")
            score = gr.Button("Score grid (CLAP)")
        status = gr.Textbox(label="Compare status", lines=4, value=lambda: kind_status(ctx.jobs, "compare"))
        bar = gr.HTML(lambda: kind_bar(ctx.jobs, "compare"), elem_classes="job-progress-bar")
        shown = gr.State("")
        sort = gr.Dropdown(list(compare_grid.SORTS), value=compare_grid.GRID_ORDER, label="Sort grid by")
        scores = gr.Dataframe(headers=compare_grid.HEADERS, label="Scores", interactive=False,
                              elem_id="compare-scores")
        gr.render(inputs=[shown, sort])(compare_grid.players)
        with gr.Row():
            cell = gr.Dropdown([], label="Cell", scale=2)
            mark = gr.Button("Mark favourite")
            fmt = gr.Dropdown(FORMATS, value="acestep", label="Export format")
            folder = gr.Textbox(label="Export folder", value=str(ctx.work_root / "export" / "chosen"), scale=2)
            export = gr.Button("Export this one")
        result = gr.Textbox(label="Favourite / export", lines=2)
        timer = tab_timer(2.0)
    go.click(*named(fields, lambda form: start(ctx, form), CompareForm), status, api_name="start_compare")
    show.click(lambda typed: load_grid(ctx, typed), fields["output"], shown, api_name="show_grid")
    score.click(lambda typed, clap, songs: rescore(ctx, typed, clap, songs),
                [fields["output"], fields["clap"], fields["reference"]], [status, shown], api_name="score_grid")
    shown.change(cell_choices, shown, cell)
    for trigger in (shown.change, sort.change):
        trigger(compare_grid.table, [shown, sort], scores, show_progress="hidden")
    mark.click(favourite, [shown, cell], result, api_name="mark_favourite")
    export.click(lambda g, c, f, d: export_cell(ctx, g, c, f, d), [shown, cell, fmt, folder], result,
                 api_name="export_cell")
    timer.tick(lambda: kind_poll(ctx.jobs, "compare"), outputs=[status, bar], api_name="compare_status",
               show_progress="hidden")
    timer.tick(lambda current: finished_grid(ctx, current), shown, shown, show_progress="hidden")
    return {"run": fields["run"], "checkpoints": fields["checkpoints"], "strengths": fields["strengths"],
            "output": fields["output"], "folder": folder, "sort": sort}
