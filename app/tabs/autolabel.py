"""Auto-label tab: fill BPM, key and duration with librosa for all or only unlabeled songs.

Fields the user edited are never overwritten unless asked. Captioning models (caption, genre,
lyrics) plug in here when the captioner's backends land.
"""

from __future__ import annotations

import gradio as gr

from acestep_train.audio import AudioError
from acestep_train.dataset import ScanOptions, scan_folder, write_sidecar
from acestep_train.dataset.analysis import analyze
from app.context import AppContext
from app.tabs.dataset import checked


def label(ctx: AppContext, folder: str, only_missing: bool, overwrite: bool, progress=gr.Progress()) -> str:
    samples = [s for s in scan_folder(checked(ctx, folder), ScanOptions()) if s.usable]
    if only_missing:
        samples = [s for s in samples if s.bpm is None or not s.keyscale]
    lines, changed_files = [], 0
    for sample in progress.tqdm(samples, desc="Analyzing"):
        try:
            result = analyze(sample.audio_path)
        except (AudioError, OSError) as error:
            lines.append(f"{sample.audio_path.name}: {error}")
            continue
        values = {"bpm": result.bpm, "keyscale": result.key or ""}
        changed = sample.update({k: v for k, v in values.items() if v not in (None, "")}, source="librosa",
                                overwrite=overwrite)
        if changed:
            write_sidecar(sample)
            changed_files += 1
        lines.append(f"{sample.audio_path.name}: bpm {result.bpm}, key {result.key}"
                     + ("" if changed else " (kept the existing values)"))
    return f"{len(samples)} analyzed, {changed_files} sidecars updated\n" + "\n".join(lines)


def build(ctx: AppContext) -> None:
    with gr.Tab("Auto-label"):
        gr.Markdown("BPM and key from the audio (librosa). Values you typed yourself are kept unless you tick "
                    "*Overwrite*. Caption and lyrics models arrive with the captioner.")
        with gr.Row():
            folder = gr.Textbox(label="Song folder", value=str(ctx.settings.roots[1] if len(ctx.settings.roots) > 1
                                                                  else ctx.work_root), scale=4)
            only_missing = gr.Checkbox(label="Only songs without BPM or key", value=True)
            overwrite = gr.Checkbox(label="Overwrite my edits", value=False)
        go = gr.Button("Analyze", variant="primary")
        result = gr.Textbox(label="Result", lines=10)
        go.click(lambda f, m, o, progress=gr.Progress(): label(ctx, f, m, o, progress), [folder, only_missing, overwrite],
                 result, api_name="autolabel")
