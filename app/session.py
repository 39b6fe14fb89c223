"""What survives a reload: the project and the settings typed into any tab, in two small files in the
studio's state folder (``project.json``, ``settings.json``), so a reload, another browser or a restarted
studio finds them again.

Each settings field remembers what the user sets in it. When a page loads, a field takes, in order:
what was set in it before, else the project's folder for it, else its default; a field the user
already typed into while the page loaded is left alone. Opening a project sets every folder field
from it (and forgets folders typed for the previous project).
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
_LOCK = threading.Lock()  # events run in threads; one read-modify-write at a time


def saved_settings(state_dir: Path) -> dict:
    record = state_dir / FILE
    if not record.is_file():
        return {}
    try:
        data = safe_json.load_file(record)
    except (OSError, ValueError) as error:
        print(f"{record}: unreadable ({error}); settings start from their defaults", file=sys.stderr, flush=True)
        return {}
    return data if isinstance(data, dict) else {}


def remember(state_dir: Path, changes: dict, forget: tuple = ()) -> None:
    with _LOCK:
        kept = {k: v for k, v in saved_settings(state_dir).items() if k not in forget}
        atomic_write_json(state_dir / FILE, {**kept, **changes})


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
        chosen, message = open_project(ctx, typed)
        paths = {key: value for key, value in chosen.fields().items() if key in fields}
        remember(ctx.work_root, {}, forget=tuple(paths))
        return {project["note"]: message, **{fields[key]: value for key, value in paths.items()}}

    project["open"].click(on_open, project["folder"], [project["note"], *boxes], api_name="open_project")
