"""What the Dataset tab (and the captioner's review) does, on the sidecar files through the library.

The sidecar files on disk are the state: every action reads them again, so two browser tabs
never hold diverging copies of the user's captions.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from acestep_train.dataset import (
    DatasetMeta,
    Sample,
    ScanOptions,
    load_dataset,
    save_dataset,
    scan_folder,
    write_sidecar,
)
from acestep_train.dataset.csv_io import read_csv, write_csv
from acestep_train.dataset.record import is_unset
from acestep_train.dataset.sidecars import apply_sidecars
from acestep_train.dataset.split import split_folder
from app.context import AppContext
from app.errors import UserError
from app.forms import BulkForm, DatasetJsonForm

TABLE = ["file", "seconds", "caption", "status", "notes"]
FIELDS = ("caption", "genre", "bpm", "keyscale", "timesignature", "language", "is_instrumental", "lyrics")
IMPORT_SKIPS = ("filename", "duration", "edited")


def scan_samples(ctx: AppContext, folder: str, txt_mode: str) -> tuple[Path, list[Sample]]:
    path = ctx.path(folder, "song folder")
    try:
        return path, scan_folder(path, ScanOptions(txt_mode))
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        raise UserError(str(error)) from error


def scan(ctx: AppContext, folder: str, txt_mode: str):
    """(table rows, song picker update, summary line)."""
    path, samples = scan_samples(ctx, folder, txt_mode)
    rows = [[str(s.audio_path.relative_to(path)), round(s.duration, 1), s.caption[:80], s.status, "; ".join(s.notes)]
            for s in samples]
    usable = sum(s.usable for s in samples)
    summary = (f"{len(samples)} files: {usable} usable, {len(samples) - usable} unusable, "
               f"{sum(s.labeled for s in samples)} captioned")
    return rows, gr.update(choices=[r[0] for r in rows], value=rows[0][0] if rows else None), summary


def load_sample(ctx: AppContext, folder: str, name: str, txt_mode: str) -> Sample:
    if not name:
        raise UserError("Choose a song first.")
    typed = Path(folder.strip()) / name
    ctx.path(str(typed), "song")  # the song (a link's target included) lies in the roots
    audio = ctx.path(str(typed.parent), "song folder") / typed.name  # named by the link, as a scan names it
    if not audio.is_file():
        raise UserError(f"{audio}: no such song")
    sample = Sample(audio)
    apply_sidecars(sample, txt_mode)
    return sample


def open_sample(ctx: AppContext, folder: str, name: str, txt_mode: str) -> list:
    """[audio for the player, then the FIELDS in order]."""
    sample = load_sample(ctx, folder, name, txt_mode)
    if not sample.usable:
        gr.Warning(f"{name}: {sample.status}")
    audio = str(sample.audio_path)
    if not ctx.served(sample.audio_path):
        gr.Warning(f"{sample.audio_path.parent} is not a folder this studio serves, so the browser cannot play it; "
                   "start the studio with --root for that folder.")
        audio = None
    values = [getattr(sample, field) for field in FIELDS]
    return [audio] + ["" if value is None else value for value in values]


def save_sample(ctx: AppContext, folder: str, name: str, txt_mode: str, values: dict) -> str:
    sample = load_sample(ctx, folder, name, txt_mode)
    try:
        changed = sample.update(values, source="user")
    except ValueError as error:
        raise UserError(f"{name}: {error}") from error
    path = write_sidecar(sample)
    return f"Saved {path.name} ({', '.join(changed) or 'no change'})."


def save_json(ctx: AppContext, form: DatasetJsonForm) -> str:
    path, samples = scan_samples(ctx, form.folder, form.txt_mode)
    out = ctx.path(form.target) if form.target.strip() else path / "dataset.json"
    try:
        meta = DatasetMeta(path.name, form.tag, form.position, form.ratio, form.txt_mode)
    except ValueError as error:
        raise UserError(str(error)) from error
    save_dataset(out, meta, samples)
    write_csv(out.with_suffix(".csv"), samples)
    return f"Wrote {out} and {out.with_suffix('.csv').name} ({len(samples)} songs)."


def load_json(ctx: AppContext, source: str) -> dict:
    """A dataset.json's settings back into the tab: {field name: value}."""
    path = ctx.path(source, "dataset.json")
    try:
        meta, samples = load_dataset(path)
    except (OSError, ValueError) as error:
        raise UserError(str(error)) from error
    folders = {s.audio_path.parent for s in samples}
    folder = folders.pop() if len(folders) == 1 else path.parent
    return {"folder": str(folder), "tag": meta.custom_tag, "position": meta.tag_position, "ratio": meta.genre_ratio,
            "txt_mode": meta.txt_mode,
            "note": f"Loaded {path.name}: {len(samples)} songs, tag {meta.custom_tag or '(none)'}; press Scan."}


def bulk_edit(ctx: AppContext, form: BulkForm) -> str:
    """One value into every song's sidecar; songs that already have their own keep it unless ``overwrite``."""
    field, changed = form.field, 0
    for sample in scan_samples(ctx, form.folder, form.txt_mode)[1]:
        if not form.overwrite and not is_unset(sample, field):
            continue
        try:
            if sample.update({field: form.value}, source="user"):
                write_sidecar(sample)
                changed += 1
        except ValueError as error:
            raise UserError(f"{sample.audio_path.name}: {error}") from error
    return f"{field} set on {changed} songs."


def import_rows(path: Path) -> dict[str, dict]:
    """{audio file name: fields} from a CSV or another tool's dataset.json."""
    try:
        if path.suffix.lower() == ".csv":
            return read_csv(path)
        return {s.audio_path.name: {k: v for k, v in s.sidecar().items() if k not in IMPORT_SKIPS}
                for s in load_dataset(path)[1]}
    except (ValueError, OSError) as error:
        raise UserError(str(error)) from error


def import_captions(ctx: AppContext, form: BulkForm) -> str:
    """Fill sidecars from a CSV or dataset.json (missing fields only, unless ``overwrite``)."""
    path, overwrite = ctx.path(form.source, "CSV or dataset.json"), form.overwrite
    rows, updated = import_rows(path), 0
    for sample in scan_samples(ctx, form.folder, form.txt_mode)[1]:
        row = rows.get(sample.audio_path.name) or {}
        fields = {k: v for k, v in row.items() if v not in (None, "") and (overwrite or is_unset(sample, k))}
        try:
            if fields and sample.update(fields, source="import", overwrite=overwrite):
                write_sidecar(sample)
                updated += 1
        except ValueError as error:
            raise UserError(f"{sample.audio_path.name}: {error}") from error
    return f"{updated} sidecars filled from {path.name} ({len(rows)} rows)."


def split(ctx: AppContext, folder: str, target: str, seconds: float) -> str:
    source, output = ctx.path(folder, "song folder"), ctx.path(target, "output folder")
    try:
        results, failed = split_folder(source, output, float(seconds))
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from error
    text = f"{sum(len(r.segments) for r in results)} segments from {len(results)} songs in {output}"
    return text + "".join(f"\nskipped {p}: {why}" for p, why in failed)
