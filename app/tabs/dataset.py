"""Dataset tab: scan a folder, edit one song's sidecar, tags, bulk edits, CSV, dataset.json, splitting."""

from __future__ import annotations

import gradio as gr

from app import browser_js
from app import dataset_ops as ops
from app import holdout_marks as marks
from app.context import AppContext
from app.forms import BulkForm, DatasetJsonForm
from app.wiring import first_cell, named


def editor() -> dict:
    """The one-song editor's fields, keyed by sidecar field name."""
    label = ops.FIELD_LABELS
    with gr.Row():
        fields = {"caption": gr.Textbox(label=label["caption"], lines=3, scale=3),
                  "genre": gr.Textbox(label=label["genre"])}
    with gr.Row():
        one_line = ("bpm", "keyscale", "timesignature", "language")
        fields.update({name: gr.Textbox(label=label[name]) for name in one_line},
                      is_instrumental=gr.Checkbox(label=label["is_instrumental"]))
    fields["lyrics"] = gr.Textbox(label=label["lyrics"], lines=8)
    return fields


def build(ctx: AppContext) -> dict:
    """The tab; returns its settings for the session profile."""
    with gr.Tab("2 · Dataset"):
        gr.Markdown("Needs a song folder (the project's `songs/`). Scan it, then fix or caption what it flags.")
        with gr.Row():
            folder = gr.Textbox(label="Song folder", value=str(ctx.data_root), scale=4)
            txt_mode = gr.Dropdown(["caption", "lyrics", "ignore"], value="caption", label="A plain .txt holds")
            scan_button = gr.Button("Scan", variant="primary")
        summary = gr.Markdown()
        table = gr.Dataframe(headers=ops.TABLE_HEADERS, interactive=False, label="Songs (status and reasons)",
                             max_height=420)
        with gr.Row():
            song = gr.Dropdown(label="Song", choices=[], scale=3, allow_custom_value=True)
            open_button = gr.Button("Open")
        audio = gr.Audio(label="Listen", type="filepath", interactive=False)
        fields = editor()
        with gr.Row():
            save_button = gr.Button("Save sidecar", scale=3)
            holdout = gr.Checkbox(label="Hold out for validation", scale=2,
                                  info="Never trained on when the Train tab validates; its loss is measured instead")
        saved = gr.Markdown()
        meta = dataset_json_section(ctx, folder, txt_mode)
        bulk = bulk_section(folder, txt_mode)
        split = split_section()
        scan_button.click(lambda f, m: ops.scan(ctx, f, m), [folder, txt_mode], [table, song, summary],
                          api_name="scan")
        loaded = gr.State(None)  # what Open showed: Save writes only the fields changed since
        opened = [audio, *fields.values(), loaded]
        mark_shown = (lambda f, n, m: marks.shown(ctx, f, n, m), [folder, song, txt_mode], holdout)
        table.select(first_cell, None, song).then(lambda f, n, m: ops.open_sample(ctx, f, n, m),
                                                  [folder, song, txt_mode], opened).success(
            None, js=browser_js.SAVED).success(*mark_shown)  # a click opens the song
        open_button.click(lambda f, n, m: ops.open_sample(ctx, f, n, m), [folder, song, txt_mode], opened,
                          api_name="open_sample").success(None, js=browser_js.SAVED).success(*mark_shown)
        holdout.input(lambda f, n, m, h: marks.mark(ctx, f, n, m, h), [folder, song, txt_mode, holdout], saved,
                      api_name="mark_validation")
        for box in fields.values():  # a reload asks before it loses what was typed here
            box.input(None, js=browser_js.EDITED)
        sample = {"folder": folder, "song": song, "txt_mode": txt_mode, **fields, "loaded": loaded}
        shown = [table, song, summary]  # every edit shows the table again, as Scan would
        save_button.click(*named(sample, lambda v: refreshed(ctx, v, ops.save_sample(
            ctx, v["folder"], v["song"], v["txt_mode"], {k: v[k] for k in ops.FIELDS}, v["loaded"]))),
                          [saved, *shown], api_name="save_sample").success(None, js=browser_js.SAVED)
        bulk_inputs = {**bulk["inputs"], "song": song}
        bulk["button"].click(*named(bulk_inputs, lambda v: refreshed(ctx, v, ops.bulk_edit(ctx, bulk_form(v)))),
                             [bulk["note"], *shown], api_name="bulk_edit")
        bulk["import"].click(*named(bulk_inputs, lambda v: refreshed(ctx, v, ops.import_captions(ctx, bulk_form(v)))),
                             [bulk["note"], *shown], api_name="import_captions")
        split["button"].click(lambda f, t, s: ops.split(ctx, f, t, s), [folder, split["target"], split["seconds"]],
                              split["note"], api_name="split")
        return {"folder": folder, "txt_mode": txt_mode, **{k: meta[k] for k in ("tag", "position", "ratio")}}


def bulk_form(values: dict) -> BulkForm:
    return BulkForm.of({name: value for name, value in values.items() if name != "song"})


def refreshed(ctx: AppContext, values: dict, note: str) -> tuple:
    """(note, table rows, song picker, summary): what an edit did, then the folder as a fresh Scan shows it."""
    return (note, *ops.scan(ctx, values["folder"], values["txt_mode"], values["song"]))


def dataset_json_section(ctx: AppContext, folder, txt_mode) -> dict:
    with gr.Accordion("Activation tag, dataset.json and CSV", open=False):
        with gr.Row():
            fields = {"tag": gr.Textbox(label="Activation tag"),
                      "position": gr.Dropdown(["prepend", "append", "replace"], value="prepend",
                                              label="Tag position"),
                      "ratio": gr.Number(value=0, step=0.05, label="Share of songs captioned by genre (0 to 1)")}
        fields["target"] = gr.Textbox(label="dataset.json path (default: dataset.json in the song folder)")
        with gr.Row():
            save = gr.Button("Save dataset.json + CSV")
            load = gr.Button("Load a dataset.json (its tag, position, folder)")
        note = gr.Markdown()
    inputs = {"folder": folder, "txt_mode": txt_mode, **fields}
    save.click(*named(inputs, lambda form: ops.save_json(ctx, form), DatasetJsonForm), note,
               api_name="save_dataset_json")
    targets = {"folder": folder, "tag": fields["tag"], "position": fields["position"], "ratio": fields["ratio"],
               "txt_mode": txt_mode, "note": note}
    load.click(lambda source: {targets[k]: v for k, v in ops.load_json(ctx, source).items()}, fields["target"],
               list(targets.values()), api_name="load_dataset_json")
    return fields


def bulk_section(folder, txt_mode) -> dict:
    with gr.Accordion("Bulk edit and import", open=False):
        with gr.Row():
            field = gr.Dropdown(["genre", "language", "keyscale", "timesignature", "bpm", "is_instrumental",
                                 "caption"], value="genre", label="Field")
            value = gr.Textbox(label="Value for every song")
            overwrite = gr.Checkbox(label="Also replace values typed or imported (the studio's guesses always are)")
        button = gr.Button("Apply to all")
        source = gr.Textbox(label="Import captions from a CSV or a dataset.json")
        import_button = gr.Button("Import")
        note = gr.Markdown()
    inputs = {"folder": folder, "txt_mode": txt_mode, "field": field, "value": value, "overwrite": overwrite,
              "source": source}
    return {"inputs": inputs, "button": button, "import": import_button, "note": note}


def split_section() -> dict:
    with gr.Accordion("Split long songs", open=False):
        target = gr.Textbox(label="Output folder")
        seconds = gr.Dropdown([30, 60], value=30, label="Segment seconds", allow_custom_value=True)
        button = gr.Button("Split")
        note = gr.Markdown()
    return {"target": target, "seconds": seconds, "button": button, "note": note}
