"""What the Dataset tab (and the captioner's review) does, on the sidecar files through the library.

The sidecar files on disk are the state: every action reads them again, so two browser tabs
never hold diverging copies of the user's captions. A save writes only the fields the user changed
since the song was opened (the editor keeps what it showed), so a value a job wrote meanwhile, or an
empty field left alone, is not claimed as the user's. Every write goes through the sidecar
provenance rule (``acestep_train.dataset.provenance``).
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
from acestep_train.dataset import provenance
from acestep_train.dataset.csv_io import read_csv, write_csv
from acestep_train.dataset.provenance import Policy
from acestep_train.dataset.record import coerce
from acestep_train.dataset.sidecars import apply_sidecars
from acestep_train.dataset.scan import TRAIN_MIN_SECONDS
from acestep_train.dataset.split import split_folder
from app.context import AppContext
from app.errors import UserError
from app.forms import BulkForm, DatasetJsonForm, number_in

TABLE = ["file", "seconds", "caption", "status", "notes", "bpm", "key", "meter"]  # the scan table's columns
TABLE_HEADERS = ["File", "Seconds", "Caption", "Status", "Notes", "BPM", "Key", "Time signature"]  # as shown
FIELDS = ("caption", "genre", "bpm", "keyscale", "timesignature", "language", "is_instrumental", "lyrics")
#: a sidecar field's label in the editors (the Dataset tab's and the captioner's Review)
FIELD_LABELS = {"caption": "Caption", "genre": "Genre", "bpm": "BPM", "keyscale": "Key (e.g. E minor)",
                "timesignature": "Time signature (beats per bar)", "language": "Language (e.g. en)",
                "is_instrumental": "Instrumental", "lyrics": "Lyrics"}
IMPORT_SKIPS = ("filename", "duration", provenance.KEY)
MEASURED_COLUMNS = ("bpm", "keyscale", "timesignature")  # the table's bpm, key, meter


def scan_samples(ctx: AppContext, folder: str, txt_mode: str) -> tuple[Path, list[Sample]]:
    path = ctx.path(folder, "song folder")
    try:
        return path, scan_folder(path, ScanOptions(txt_mode, TRAIN_MIN_SECONDS))  # what preprocessing will take
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        raise UserError(str(error)) from error


def scan(ctx: AppContext, folder: str, txt_mode: str, keep: str | None = None):
    """(table rows, song picker update, summary line); the picker keeps the song ``keep`` when it is listed."""
    path, samples = scan_samples(ctx, folder, txt_mode)
    rows = [[str(s.audio_path.relative_to(path)), round(s.duration, 1), s.caption[:80], s.status, "; ".join(s.notes),
             *(marked(s, name) for name in MEASURED_COLUMNS)] for s in samples]
    usable = sum(s.usable for s in samples)
    summary = (f"{len(samples)} files: {usable} usable, {len(samples) - usable} unusable, "
               f"{sum(s.labeled for s in samples if s.usable)} captioned")
    names = [r[0] for r in rows]
    return rows, gr.update(choices=names, value=keep if keep in names else names[0] if names else None), summary


def marked(sample: Sample, name: str) -> str:
    """A measured value for the table, "(low)" after it when the analysis was unsure of it."""
    value = getattr(sample, name)
    if value in (None, ""):
        return ""
    origin = sample.provenance.get(name)
    return f"{value} (low)" if origin is not None and origin.low else str(value)


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


def shown(sample: Sample) -> dict:
    """The FIELDS as the editor shows them."""
    return {field: "" if getattr(sample, field) is None else getattr(sample, field) for field in FIELDS}


def open_sample(ctx: AppContext, folder: str, name: str, txt_mode: str) -> list:
    """[audio for the player, the FIELDS in order, then what was shown (for ``save_sample``)]."""
    sample = load_sample(ctx, folder, name, txt_mode)
    if not sample.usable:
        gr.Warning(f"{name}: {sample.status}")
    audio = str(sample.audio_path)
    if not ctx.served(sample.audio_path):
        gr.Warning(f"{sample.audio_path.parent} is not a folder this studio serves, so the browser cannot play it; "
                   "start the studio with --root for that folder.")
        audio = None
    values = shown(sample)
    return [audio, *values.values(), {"song": name, **values}]


def edits(name: str, values: dict, before: dict) -> dict:
    """The fields whose value differs from what the editor showed (compared as the sidecar types them)."""
    changed = {}
    for field, value in values.items():
        try:
            new = coerce(field, value)
        except ValueError as error:
            raise UserError(f"{name}: {error}") from error
        try:
            old = coerce(field, before.get(field))
        except ValueError:
            old = None  # what was shown could not be typed: any value is a change
        if new != old:
            changed[field] = value
    return changed


def save_sample(ctx: AppContext, folder: str, name: str, txt_mode: str, values: dict,
                loaded: dict | None = None) -> str:
    """Write the fields the user changed. ``loaded``: what the editor showed when the song was opened
    (None, or another song's: compared with the sidecar on disk instead)."""
    sample = load_sample(ctx, folder, name, txt_mode)
    before = loaded if loaded and loaded.get("song") == name else shown(sample)
    try:
        changed = sample.update(edits(name, values, before), provenance.user(), Policy(overwrite=True))
    except ValueError as error:  # e.g. a key outside A-G: nothing is written
        raise UserError(f"{name}: {error}") from error
    path = write_sidecar(sample)
    return f"Saved {path.name} ({', '.join(changed) or 'no change'})."


def save_json(ctx: AppContext, form: DatasetJsonForm) -> str:
    path, samples = scan_samples(ctx, form.folder, form.txt_mode)
    out = ctx.path(form.target) if form.target.strip() else path / "dataset.json"
    ratio = number_in("Share of songs captioned by genre", form.ratio, 0, 1)
    try:
        meta = DatasetMeta(path.name, form.tag, form.position, ratio, form.txt_mode)
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
    """One value into every song's sidecar; songs whose value is the user's (typed or imported) keep it
    unless ``overwrite``; values the studio guessed are replaced. Unusable files get no sidecar."""
    field, changed, origin, unusable = form.field, 0, provenance.user("bulk edit"), []
    for sample in scan_samples(ctx, form.folder, form.txt_mode)[1]:
        if not sample.usable:  # never a sidecar for a file that is not usable audio
            unusable.append(f"{sample.audio_path.name} ({sample.status})")
            continue
        try:
            if sample.update({field: form.value}, origin, Policy(overwrite=form.overwrite)):
                write_sidecar(sample)
                changed += 1
        except ValueError as error:
            raise UserError(f"{sample.audio_path.name}: {error}") from error
    return f"{field} set on {changed} songs." + (f" Left out, not usable audio: {', '.join(unusable)}."
                                                  if unusable else "")


def import_rows(path: Path) -> dict[str, dict]:
    """{audio file name: fields} from a CSV or another tool's dataset.json."""
    if not path.is_file():
        raise UserError(f"Import: {path} {'is a folder' if path.is_dir() else 'does not exist'}; "
                        "name a CSV or dataset.json file.")
    try:
        if path.suffix.lower() == ".csv":
            return read_csv(path)
        return {s.audio_path.name: {k: v for k, v in s.sidecar().items() if k not in IMPORT_SKIPS}
                for s in load_dataset(path)[1]}
    except OSError as error:
        raise UserError(f"Import: cannot read {path} ({error.strerror or error})") from error
    except ValueError as error:
        raise UserError(f"Import: {error}") from error


def import_captions(ctx: AppContext, form: BulkForm) -> str:
    """Fill sidecars from a CSV or dataset.json: empty fields and the studio's guesses; the user's own values
    only with ``overwrite``."""
    path = ctx.path(form.source, "CSV or dataset.json")
    rows, updated, origin, policy = import_rows(path), 0, provenance.imported(path.name), Policy(form.overwrite)
    for sample in scan_samples(ctx, form.folder, form.txt_mode)[1]:
        row = rows.get(sample.audio_path.name) or {} if sample.usable else {}  # never a sidecar for unusable audio
        fields = {k: v for k, v in row.items() if v not in (None, "")}
        try:
            if fields and sample.update(fields, origin, policy):
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
