"""Captioning and audio analysis as a job (``python -m captioner``), for the Auto-label tab and the captioner app.

The user's values (typed, hand-made, imported) are kept unless ``overwrite``: the captioner's batch
decides field by field with ``acestep_train.dataset.provenance.may_write``.
Local model backends occupy the GPU; librosa and the cloud backends do not, so they may run
beside a training job.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from app.context import AppContext
from app.errors import UserError
from captioner import normalize
from app.forms import CaptionForm
from app.status import submitted

BACKENDS = ["librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini", "openai-whisper",
            "elevenlabs-scribe"]
MODEL_FLAGS = {"whisper": "--whisper-dir", "acestep-captioner": "--captioner-dir",
               "acestep-transcriber": "--transcriber-dir"}
KEY_NAMES = {"gemini": "GEMINI_API_KEY", "openai-whisper": "OPENAI_API_KEY", "elevenlabs-scribe": "ELEVENLABS_API_KEY"}


def check_caption_fields(names) -> None:
    """When a captioning tab is built: its names, less its model folders and keys, are CaptionForm's fields."""
    CaptionForm.check(set(names) - {dir_key(n) for n in MODEL_FLAGS} - {key_field(n) for n in KEY_NAMES})


def caption_form(values: dict) -> CaptionForm:
    """A captioning tab's values (its model folders and keys as ``<backend>_dir`` / ``<backend>_key``) as its form."""
    dirs = {name: values.pop(dir_key(name), None) or "" for name in MODEL_FLAGS}
    keys = pop_keys(values)
    return CaptionForm.of({**values, "model_dirs": dirs, "api_keys": keys})


def captioner_command(ctx: AppContext, form: CaptionForm, events: str) -> list[str]:
    backends = form.backends
    if not backends:
        raise UserError("Choose at least one backend.")
    command = ["--audio-dir", str(ctx.path(form.folder, "song folder")),
               "--backend", ",".join(backends), "--events", events]
    for backend, flag in MODEL_FLAGS.items():
        if backend in backends:
            folder = form.model_dirs.get(backend, "")
            if not folder.strip():
                raise UserError(f"The {backend} backend needs its local model folder.")
            command += [flag, str(ctx.path(folder, f"{backend} model folder"))]
    command += ["--quantize", form.quantize] if form.quantize not in ("", "none") else []
    command += ["--only-missing"] if form.only_missing else []
    command += ["--overwrite"] if form.overwrite else []
    command += ["--two-pass"] if form.two_pass else []
    command += ["--tag", form.tag.strip()] if form.tag.strip() else []
    command += ["--model-metadata"] if form.model_metadata else []
    command += label_flags(form)
    for flag, text in (("--caption-prompt", form.caption_prompt), ("--transcribe-prompt", form.transcribe_prompt)):
        command += [flag, text.strip()] if text.strip() else []
    return command


def label_flags(form: CaptionForm) -> list[str]:
    """The language hint, timed lyrics, Gemini and confidence options as ``python -m captioner`` flags."""
    try:
        least = float(form.min_confidence or 0.0)
    except (TypeError, ValueError) as error:
        raise UserError(f"Minimum confidence: {form.min_confidence!r} is not a number.") from error
    if not 0.0 <= least <= 1.0:
        raise UserError(f"Minimum confidence must be between 0 and 1, not {least:g}.")
    language = form.language.strip()
    if language and normalize.language(language) in (None, "unknown"):
        raise UserError(f"Language {language!r} is not a language code ACE-Step knows (en, ja, yue, ...); "
                        "leave it blank to detect it.")
    flags = ["--language", language] if language else []
    flags += ["--timestamps"] if form.timestamps else []
    flags += ["--gemini-lyrics"] if form.gemini_lyrics else []
    flags += ["--gemini-model", form.gemini_model.strip()] if form.gemini_model.strip() else []
    return flags + (["--min-confidence", f"{least:g}"] if least else [])


def label_fields() -> dict:
    """Whose BPM / key / meter wins, the analysis's minimum confidence, the language hint, timed lyrics and
    the Gemini options: the same components in the Auto-label tab and the captioner app."""
    import gradio as gr

    with gr.Row():
        fields = {"model_metadata": gr.Checkbox(
                      label="Use the captioner's BPM / key / time signature (default: librosa's measurement wins)",
                      value=False),
                  "min_confidence": gr.Slider(
                      0, 1, value=0, step=0.05, label="Minimum confidence of a measured BPM / key / meter (0: all)")}
    with gr.Row():
        fields.update(language=gr.Textbox(label="Sung language (e.g. en, ja; blank: detected)"),
                      timestamps=gr.Checkbox(label="Timed lyrics as .lrc (Whisper, OpenAI, ElevenLabs)"),
                      gemini_lyrics=gr.Checkbox(label="Gemini also writes lyrics"),
                      gemini_model=gr.Textbox(label="Gemini model", placeholder="gemini-2.5-flash"))
    return fields


def key_field(backend: str) -> str:
    """``openai-whisper`` -> ``openai_whisper_key`` (a keyword the API accepts)."""
    return backend.replace("-", "_") + "_key"


def key_fields() -> dict:
    """Password fields for the cloud backends' keys, under an accordion that says where they go. They are
    never part of a saved profile: callers keep them out of what they return for it."""
    import gradio as gr

    with gr.Accordion("API keys (cloud backends: used for this run only, never logged or saved)", open=False):
        with gr.Row():
            return {key_field(name): gr.Textbox(label=f"{name} API key ({variable}; blank: the environment's)",
                                                type="password")
                    for name, variable in KEY_NAMES.items()}


def pop_keys(values: dict) -> dict[str, str]:
    """Take the typed keys out of a form's values: ``{backend: key}`` for ``submit_captioning``'s ``api_keys``."""
    return {name: values.pop(key_field(name), None) or "" for name in KEY_NAMES}


def write_keys_file(keys: dict[str, str]) -> Path | None:
    """The API keys typed in the UI, for the job only: a file only this user can read, in the system
    temp folder (outside every folder the app serves), passed by its name (never the keys themselves
    on a command line, in the job record or in a log), deleted by the job as it reads it
    (``python -m captioner --keys-file``). Nothing else keeps them."""
    keys = {KEY_NAMES[name]: value.strip() for name, value in keys.items() if value and value.strip()}
    if not keys:
        return None
    handle, name = tempfile.mkstemp(prefix="captioner-keys-", suffix=".json")  # created 0600
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(keys, out)
    return Path(name)


def submit_captioning(ctx: AppContext, kind: str, form: CaptionForm) -> str:
    output = ctx.work_root / kind
    command = captioner_command(ctx, form, str(output / "events.jsonl"))
    keys_file = write_keys_file(form.api_keys)
    command += ["--keys-file", str(keys_file)] if keys_file else []
    gpus = [0] if any(b in MODEL_FLAGS for b in form.backends) else []
    job = ctx.jobs.submit(kind, command, output, gpus=gpus)
    return submitted(ctx.jobs, job)


def dir_key(backend: str) -> str:
    """``acestep-captioner`` -> ``acestep_captioner_dir`` (a keyword the API accepts)."""
    return backend.replace("-", "_") + "_dir"
