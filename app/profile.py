"""Session profiles: every tab's settings saved to one JSON file and loaded back.

Keys are ``<tab>.<field>`` (``train.epochs``, ``preprocess.max_duration``). Loading sets the
fields the file names and leaves the others as they are; a key this version does not know is
refused with its name, so a typo never passes silently.
"""

from __future__ import annotations


from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json
from app.context import AppContext
from app.errors import UserError
from app.wiring import named

VERSION = 1


def save_profile(ctx: AppContext, path: str, values: dict) -> str:
    target = ctx.path(path, "profile file")
    atomic_write_json(target, {"version": VERSION, "settings": values})
    return f"Saved {len(values)} settings to {target}."


def read_profile(ctx: AppContext, path: str, known: set[str]) -> dict:
    source = ctx.path(path, "profile file")
    try:
        data = safe_json.load_file(source)
    except (OSError, ValueError) as error:
        raise UserError(f"{source}: cannot read the profile ({error})") from error
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("settings"), dict):
        raise UserError(f"{source}: not a studio profile (version {VERSION})")
    unknown = sorted(set(data["settings"]) - known)
    if unknown:
        raise UserError(f"{source}: unknown settings {unknown}")
    return data["settings"]


def wire(ctx: AppContext, controls: dict, fields: dict) -> None:
    """``controls``: path, save, load, note (from the Service tab); ``fields``: {"tab.field": component}."""
    keyed = {"profile_path": controls["path"],  # API keywords cannot hold dots: train.epochs -> train__epochs
             **{name.replace(".", "__"): box for name, box in fields.items()}}

    def save(values: dict) -> str:
        path = values.pop("profile_path")
        return save_profile(ctx, path, {name.replace("__", "."): value for name, value in values.items()})

    def load(path: str) -> dict:
        settings = read_profile(ctx, path, set(fields))
        return {**{fields[name]: value for name, value in settings.items()},
                controls["note"]: f"Loaded {len(settings)} settings from {path}."}

    controls["save"].click(*named(keyed, save), controls["note"], api_name="save_profile")
    controls["load"].click(load, controls["path"], [*fields.values(), controls["note"]], api_name="load_profile")
