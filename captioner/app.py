"""The captioner app (port 7862): caption / transcribe / analyze a folder as a job, then review song by song.

Models run inside the job's own process and are freed when it ends, so nothing stays loaded in
this UI ("unload" is the job ending). The review view reuses the trainer's sidecar editor.
"""

from __future__ import annotations

import gradio as gr

from app.context import AppContext
from app.tabs.dataset import FIELDS, checked, open_sample, save_sample, scan
from app.tabs.jobs_panel import progress_text

MODES = {"Caption all": ["librosa", "acestep-captioner"], "Transcribe only": ["acestep-transcriber"],
         "Analyze only": ["librosa"]}
MODEL_FLAGS = {"whisper": "--whisper-dir", "acestep-captioner": "--captioner-dir",
               "acestep-transcriber": "--transcriber-dir"}


def start(ctx: AppContext, folder: str, mode: str, backends: list[str], model_dirs: dict, only_missing: bool,
          two_pass: bool, tag: str, quantize: str) -> str:
    chosen = backends or MODES[mode]
    output = ctx.work_root / "captioner"
    command = ["captioner", "--audio-dir", str(checked(ctx, folder)), "--backend", ",".join(chosen),
               "--events", str(output / "events.jsonl")]
    for backend, flag in MODEL_FLAGS.items():
        if backend in chosen:
            if not model_dirs[backend].strip():
                raise gr.Error(f"The {backend} backend needs its local model folder.")
            command += [flag, str(checked(ctx, model_dirs[backend]))]
    command += ["--quantize", quantize] if quantize != "none" else []
    command += ["--only-missing"] if only_missing else []
    command += ["--two-pass"] if two_pass else []
    command += ["--tag", tag] if tag.strip() else []
    job = ctx.jobs.submit("caption", command, output)
    return f"caption job {job.id}: {job.status}"


def build_captioner_app(ctx: AppContext, trainer_url: str | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Captioner") as demo:
        gr.Markdown("# ACE-Step Studio - Captioner" + (f"  \n[Open the trainer]({trainer_url})" if trainer_url else ""))
        with gr.Tab("Caption"):
            with gr.Row():
                folder = gr.Textbox(label="Song folder", scale=3,
                                    value=str(ctx.settings.roots[1] if len(ctx.settings.roots) > 1 else ctx.work_root))
                mode = gr.Radio(list(MODES), value="Caption all", label="What")
            with gr.Row():
                backends = gr.CheckboxGroup(["librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini",
                                             "openai-whisper", "elevenlabs-scribe"],
                                            label="Backends (empty: the mode's default)")
            with gr.Row():
                model_dirs = {name: gr.Textbox(label=f"{name} model folder") for name in MODEL_FLAGS}
                quantize = gr.Dropdown(["none", "8bit", "4bit"], value="none", label="Quantize (small GPUs)")
            with gr.Row():
                only_missing = gr.Checkbox(label="Skip songs already done", value=True)
                two_pass = gr.Checkbox(label="Two-pass (caption all, free, then transcribe)", value=False)
                tag = gr.Textbox(label="Activation tag")
            go = gr.Button("Start", variant="primary")
            status = gr.Textbox(label="Status", lines=5)
            names = list(model_dirs)
            go.click(lambda f, m, b, o, t, g, q, *dirs: start(ctx, f, m, b, dict(zip(names, dirs)), o, t, g, q),
                     [folder, mode, backends, only_missing, two_pass, tag, quantize, *model_dirs.values()],
                     status, api_name="caption")
            gr.Timer(2.0).tick(lambda: progress_text(ctx.jobs, "caption"), outputs=status, api_name="caption_status")
        with gr.Tab("Review"):
            with gr.Row():
                review_folder = gr.Textbox(label="Song folder", scale=4, value=folder.value)
                load = gr.Button("Load")
            summary = gr.Markdown()
            table = gr.Dataframe(interactive=False)
            song = gr.Dropdown(label="Song", choices=[], allow_custom_value=True)
            open_button = gr.Button("Open")
            audio = gr.Audio(type="filepath", interactive=False)
            fields = {name: (gr.Checkbox(label=name) if name == "is_instrumental" else
                             gr.Textbox(label=name, lines=6 if name == "lyrics" else 1)) for name in FIELDS}
            save = gr.Button("Save")
            saved = gr.Markdown()
            load.click(lambda f: scan(ctx, f, "caption"), review_folder, [table, song, summary])
            open_button.click(lambda f, n: open_sample(ctx, f, n, "caption"), [review_folder, song],
                              [audio, *fields.values()])
            save.click(lambda f, n, *v: save_sample(ctx, f, n, "caption", dict(zip(FIELDS, v))),
                       [review_folder, song, *fields.values()], saved, api_name="save_review")
    return demo
