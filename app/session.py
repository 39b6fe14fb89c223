"""What survives a reload: the project and the settings typed into any tab, in two small files in the
studio's state folder (``project.json``, ``settings.json``), so a reload, another browser or a restarted
studio finds them again.

Settings belong to the project they were typed for: a trigger word, a tag, a learning rate typed for one
band never reaches another band's run. Only the few that describe this machine (which model, the GPU
preset, where the helper models live) are studio-wide. Each field remembers what the user sets in it.
When a page loads, a field takes, in order: what was set in it before (for the open project), else the
project's folder for it, else its default; a field the user already typed into while the page loaded is
left alone. Opening a project gives every per-project field that project's value (typed, else its folder,
else the default).
"""

from __future__ import annotations

import sys
import threading
from functools import partial
from pathlib import Path

import gradio as gr

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json
from app.context import AppContext
from app.project import load_project
from app.tabs.project import open_project

FILE = "settings.json"
VERSION = 2  # version 1 was one flat {key: value} for every project
NO_PROJECT = ""  # the settings typed before any project was opened
STUDIO_WIDE = frozenset({  # about this machine, not about a band's songs
    "preprocess.model", "train.model", "train.preset", "train.nodes", "train.base_weights", "train.ema_on_cpu",
    "autolabel.backends", "autolabel.quantize", "autolabel.gemini_model", "autolabel.whisper_dir",
    "autolabel.acestep_captioner_dir", "autolabel.acestep_transcriber_dir"})
_LOCK = threading.Lock()  # events run in threads; one read-modify-write at a time


def _open_project_key(state_dir: Path) -> str:
    chosen = load_project(state_dir)
    return str(chosen.folder) if chosen else NO_PROJECT


def _split(values: dict) -> tuple[dict, dict]:
    """(studio-wide, per-project) parts of ``values``."""
    return ({k: v for k, v in values.items() if k in STUDIO_WIDE},
            {k: v for k, v in values.items() if k not in STUDIO_WIDE})


def _read(record: Path) -> dict:
    """The file's JSON object; {} when there is none yet or it is unreadable (said on the console)."""
    try:
        data = safe_json.load_file(record) if record.is_file() else {}
    except (OSError, ValueError) as error:
        print(f"{record}: unreadable ({error}); settings start from their defaults", file=sys.stderr, flush=True)
        return {}
    return data if isinstance(data, dict) else {}


def _record(state_dir: Path, key: str) -> dict:
    """``{"studio": {...}, "projects": {folder: {...}}}``; a version-1 file (one flat dict) belongs to the
    project ``key``, the one open now."""
    data = _read(state_dir / FILE)
    if data.get("version") != VERSION:
        studio, typed = _split(data)
        return {"studio": studio, "projects": {key: typed}}
    projects = data.get("projects") if isinstance(data.get("projects"), dict) else {}
    return {"studio": data.get("studio") if isinstance(data.get("studio"), dict) else {},
            "projects": {folder: typed for folder, typed in projects.items() if isinstance(typed, dict)}}


def saved_settings(state_dir: Path) -> dict:
    """What was set for the project open now, with the studio-wide settings."""
    key = _open_project_key(state_dir)
    record = _record(state_dir, key)
    return {**record["studio"], **record["projects"].get(key, {})}


def remember(state_dir: Path, changes: dict) -> None:
    """Keep ``changes``: the studio-wide ones for every project, the others for the project open now."""
    with _LOCK:
        key = _open_project_key(state_dir)
        record = _record(state_dir, key)
        studio, typed = _split(changes)
        projects = {**record["projects"], key: {**record["projects"].get(key, {}), **typed}}
        atomic_write_json(state_dir / FILE, {"version": VERSION, "studio": {**record["studio"], **studio},
                                             "projects": projects})


def remember_one(state_dir: Path, key: str, value) -> None:
    remember(state_dir, {key: value})


def untouched(current, default) -> bool:
    """The field still shows its default (a text box built without a value is None here and "" in the page)."""
    return current == default or (default is None and current == "")


def restored(ctx: AppContext, defaults: dict, current: dict) -> dict:
    """{key: value to set} for a page that just loaded (keys absent: leave the field as it is)."""
    project = load_project(ctx.work_root)
    wanted = {**(project.fields() if project else {}), **saved_settings(ctx.work_root)}
    return {key: value for key, value in wanted.items()
            if key in defaults and untouched(current.get(key), defaults[key]) and value != current.get(key)}


def opened(ctx: AppContext, typed: str, defaults: dict) -> tuple[str, dict]:
    """Open (or create) the project typed; (message, {key: value}) for every per-project field in
    ``defaults``: what was set for that project, else its folder, else the default."""
    chosen, message = open_project(ctx, typed)
    wanted = {**defaults, **chosen.fields(), **saved_settings(ctx.work_root)}
    return message, {key: wanted[key] for key in defaults if key not in STUDIO_WIDE}


def wire(demo: gr.Blocks, ctx: AppContext, project: dict, fields: dict) -> None:
    """``project``: the Project tab's folder, open, note; ``fields``: {"tab.field": component}."""
    keys, boxes = list(fields), list(fields.values())
    defaults = {key: box.value for key, box in fields.items()}
    for key, box in fields.items():
        box.input(partial(remember_one, ctx.work_root, key), box, None, show_progress="hidden",
                  trigger_mode="always_last")

    def on_load(*current) -> list:
        changes = restored(ctx, defaults, dict(zip(keys, current)))
        chosen = load_project(ctx.work_root)
        shown = [str(chosen.folder), chosen.describe()] if chosen else [gr.skip(), gr.skip()]
        return [changes.get(key, gr.skip()) for key in keys] + shown

    demo.load(on_load, boxes, [*boxes, project["folder"], project["note"]], show_progress="hidden")

    def on_open(typed: str) -> dict:
        message, values = opened(ctx, typed, defaults)
        return {project["note"]: message, **{fields[key]: value for key, value in values.items()}}

    project["open"].click(on_open, project["folder"], [project["note"], *boxes], api_name="open_project")
