"""Dataset tab: scan a folder, edit one song's sidecar, tags, CSV, dataset.json, splitting.

The sidecar files on disk are the state: every action reads them again, so two browser tabs
never hold diverging copies of the user's captions.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from acestep_train.dataset import DatasetMeta, Sample, ScanOptions, save_dataset, scan_folder, write_sidecar
from acestep_train.dataset.csv_io import write_csv
from acestep_train.dataset.record import is_unset
from acestep_train.dataset.sidecars import apply_sidecars
from acestep_train.dataset.split import split_folder
from app.context import AppContext

TABLE = ["file", "seconds", "caption", "status", "notes"]
FIELDS = ("caption", "genre", "bpm", "keyscale", "timesignature", "language", "is_instrumental", "lyrics")


def checked(ctx: AppContext, typed: str) -> Path:
    try:
        return ctx.user_path(typed)
    except ValueError as error:
        raise gr.Error(str(error)) from error


def scan(ctx: AppContext, folder: str, txt_mode: str):
    path = checked(ctx, folder)
    try:
        samples = scan_folder(path, ScanOptions(txt_mode))
    except (FileNotFoundError, ValueError) as error:
        raise gr.Error(str(error)) from error
    rows = [[str(s.audio_path.relative_to(path)), round(s.duration, 1), s.caption[:80], s.status, "; ".join(s.notes)]
            for s in samples]
    usable = sum(s.usable for s in samples)
    summary = f"{len(samples)} files: {usable} usable, {len(samples) - usable} unusable, " \
              f"{sum(s.labeled for s in samples)} captioned"
    return rows, gr.update(choices=[r[0] for r in rows], value=rows[0][0] if rows else None), summary


def load_sample(ctx: AppContext, folder: str, name: str, txt_mode: str) -> Sample:
    audio = checked(ctx, str(Path(folder) / name))
    sample = Sample(audio)
    apply_sidecars(sample, txt_mode)
    return sample


def open_sample(ctx: AppContext, folder: str, name: str, txt_mode: str):
    if not name:
        raise gr.Error("Choose a song first.")
    sample = load_sample(ctx, folder, name, txt_mode)
    return [str(sample.audio_path)] + [getattr(sample, f) if getattr(sample, f) is not None else "" for f in FIELDS]


def save_sample(ctx: AppContext, folder: str, name: str, txt_mode: str, values: dict) -> str:
    sample = load_sample(ctx, folder, name, txt_mode)
    try:
        changed = sample.update(values, source="user")
    except ValueError as error:
        raise gr.Error(f"{name}: {error}") from error
    path = write_sidecar(sample)
    return f"saved {path.name} ({', '.join(changed) or 'no change'})"


def save_json(ctx: AppContext, folder: str, txt_mode: str, tag: str, position: str, ratio: float, target: str):
    path = checked(ctx, folder)
    out = checked(ctx, target) if target.strip() else path / "dataset.json"
    meta = DatasetMeta(path.name, tag, position, float(ratio), txt_mode)
    samples = scan_folder(path, ScanOptions(txt_mode))
    save_dataset(out, meta, samples)
    write_csv(out.with_suffix(".csv"), samples)
    return f"wrote {out} and {out.with_suffix('.csv').name} ({len(samples)} songs)"


def bulk_edit(ctx: AppContext, folder: str, txt_mode: str, field: str, value: str, overwrite: bool) -> str:
    """One value into every song's sidecar; songs that already have their own keep it unless ``overwrite``."""
    changed = 0
    for sample in scan_folder(checked(ctx, folder), ScanOptions(txt_mode)):
        if not overwrite and not is_unset(sample, field):
            continue
        try:
            if sample.update({field: value}, source="user"):
                write_sidecar(sample)
                changed += 1
        except ValueError as error:
            raise gr.Error(str(error)) from error
    return f"{field} set on {changed} songs"


def import_captions(ctx: AppContext, folder: str, txt_mode: str, source: str, overwrite: bool) -> str:
    """Fill sidecars from a CSV or another tool's dataset.json (missing fields only, unless ``overwrite``)."""
    from acestep_train.dataset import load_dataset
    from acestep_train.dataset.csv_io import read_csv

    path = checked(ctx, source)
    try:
        if path.suffix.lower() == ".csv":
            rows = read_csv(path)
        else:
            rows = {s.audio_path.name: {k: v for k, v in s.sidecar().items() if k not in ("filename", "duration",
                                                                                         "edited")}
                    for s in load_dataset(path)[1]}
    except (ValueError, OSError) as error:
        raise gr.Error(str(error)) from error
    updated = 0
    for sample in scan_folder(checked(ctx, folder), ScanOptions(txt_mode)):
        row = rows.get(sample.audio_path.name)
        if not row:
            continue
        values = {k: v for k, v in row.items() if v not in (None, "") and (overwrite or is_unset(sample, k))}
        try:
            if values and sample.update(values, source="import", overwrite=overwrite):
                write_sidecar(sample)
                updated += 1
        except ValueError as error:
            raise gr.Error(f"{sample.audio_path.name}: {error}") from error
    return f"{updated} sidecars filled from {path.name} ({len(rows)} rows)"


def split(ctx: AppContext, folder: str, target: str, seconds: float) -> str:
    results, failed = split_folder(checked(ctx, folder), checked(ctx, target), float(seconds))
    text = f"{sum(len(r.segments) for r in results)} segments from {len(results)} songs"
    return text + "".join(f"\nskipped {p}: {why}" for p, why in failed)


def build(ctx: AppContext) -> None:
    with gr.Tab("Dataset"):
        with gr.Row():
            folder = gr.Textbox(label="Song folder", value=str(ctx.settings.roots[1] if len(ctx.settings.roots) > 1
                                                                  else ctx.work_root), scale=4)
            txt_mode = gr.Dropdown(["caption", "lyrics", "ignore"], value="caption", label="A plain .txt holds")
            scan_button = gr.Button("Scan", variant="primary")
        summary = gr.Markdown()
        table = gr.Dataframe(headers=TABLE, interactive=False, label="Songs")
        with gr.Row():
            song = gr.Dropdown(label="Song", choices=[], scale=3)
            open_button = gr.Button("Open")
        audio = gr.Audio(label="Listen", type="filepath", interactive=False)
        inputs = {"caption": gr.Textbox(label="Caption", lines=2), "genre": gr.Textbox(label="Genre"),
                  "bpm": gr.Textbox(label="BPM"), "keyscale": gr.Textbox(label="Key (e.g. E minor)"),
                  "timesignature": gr.Textbox(label="Time signature"), "language": gr.Textbox(label="Language"),
                  "is_instrumental": gr.Checkbox(label="Instrumental"), "lyrics": gr.Textbox(label="Lyrics", lines=8)}
        save_button = gr.Button("Save sidecar")
        saved = gr.Markdown()
        with gr.Accordion("Activation tag, dataset.json, CSV", open=False):
            with gr.Row():
                tag = gr.Textbox(label="Activation tag")
                position = gr.Dropdown(["prepend", "append", "replace"], value="prepend", label="Tag position")
                ratio = gr.Slider(0, 1, value=0, step=0.05, label="Genre instead of caption (share)")
            target = gr.Textbox(label="dataset.json path (default: in the song folder)")
            json_button = gr.Button("Save dataset.json + CSV")
            json_done = gr.Markdown()
        with gr.Accordion("Bulk edit and import", open=False):
            with gr.Row():
                field = gr.Dropdown(["genre", "language", "keyscale", "timesignature", "bpm", "is_instrumental",
                                     "caption"], value="genre", label="Field")
                value = gr.Textbox(label="Value for every song")
                overwrite = gr.Checkbox(label="Also replace values songs already have")
            bulk_button = gr.Button("Apply to all")
            source = gr.Textbox(label="Import captions from a CSV or a dataset.json")
            import_button = gr.Button("Import")
            bulk_done = gr.Markdown()
        with gr.Accordion("Split long songs", open=False):
            split_target = gr.Textbox(label="Output folder")
            seconds = gr.Dropdown([30, 60], value=30, label="Segment seconds", allow_custom_value=True)
            split_button = gr.Button("Split")
            split_done = gr.Markdown()
        scan_button.click(lambda f, m: scan(ctx, f, m), [folder, txt_mode], [table, song, summary], api_name="scan")
        open_button.click(lambda f, n, m: open_sample(ctx, f, n, m), [folder, song, txt_mode],
                          [audio, *inputs.values()], api_name="open_sample")
        save_button.click(lambda f, n, m, *v: save_sample(ctx, f, n, m, dict(zip(FIELDS, v))),
                          [folder, song, txt_mode, *inputs.values()], saved, api_name="save_sample")
        json_button.click(lambda *a: save_json(ctx, *a), [folder, txt_mode, tag, position, ratio, target], json_done,
                          api_name="save_dataset_json")
        bulk_button.click(lambda *a: bulk_edit(ctx, *a), [folder, txt_mode, field, value, overwrite], bulk_done,
                          api_name="bulk_edit")
        import_button.click(lambda *a: import_captions(ctx, *a), [folder, txt_mode, source, overwrite], bulk_done,
                            api_name="import_captions")
        split_button.click(lambda f, t, s: split(ctx, f, t, s), [folder, split_target, seconds], split_done,
                           api_name="split")
