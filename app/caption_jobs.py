"""Captioning and audio analysis as a job (``python -m captioner``), for the Auto-label tab and the captioner app.

Fields the user edited are kept unless ``overwrite`` (the captioner's batch decides per field).
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
from app.status import submitted

BACKENDS = ["librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini", "openai-whisper",
            "elevenlabs-scribe"]
MODEL_FLAGS = {"whisper": "--whisper-dir", "acestep-captioner": "--captioner-dir",
               "acestep-transcriber": "--transcriber-dir"}
KEY_NAMES = {"gemini": "GEMINI_API_KEY", "openai-whisper": "OPENAI_API_KEY", "elevenlabs-scribe": "ELEVENLABS_API_KEY"}


def captioner_command(ctx: AppContext, values: dict, events: str) -> list[str]:
    """``values``: folder, backends, model_dirs {backend: folder}, only_missing, overwrite, two_pass, tag, quantize."""
    backends = values["backends"]
    if not backends:
        raise UserError("Choose at least one backend.")
    command = ["captioner", "--audio-dir", str(ctx.path(values["folder"], "song folder")),
               "--backend", ",".join(backends), "--events", events]
    for backend, flag in MODEL_FLAGS.items():
        if backend in backends:
            folder = values["model_dirs"].get(backend, "")
            if not folder.strip():
                raise UserError(f"The {backend} backend needs its local model folder.")
            command += [flag, str(ctx.path(folder, f"{backend} model folder"))]
    command += ["--quantize", values["quantize"]] if values["quantize"] not in ("", "none") else []
    command += ["--only-missing"] if values["only_missing"] else []
    command += ["--overwrite"] if values["overwrite"] else []
    command += ["--two-pass"] if values["two_pass"] else []
    command += ["--tag", values["tag"].strip()] if values["tag"].strip() else []
    command += ["--model-metadata"] if values.get("model_metadata") else []
    for flag, name in (("--caption-prompt", "caption_prompt"), ("--transcribe-prompt", "transcribe_prompt")):
        text = (values.get(name) or "").strip()
        command += [flag, text] if text else []
    return command


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


def submit_captioning(ctx: AppContext, kind: str, values: dict) -> str:
    output = ctx.work_root / kind
    command = captioner_command(ctx, values, str(output / "events.jsonl"))
    keys_file = write_keys_file(values.get("api_keys") or {})
    command += ["--keys-file", str(keys_file)] if keys_file else []
    gpus = [0] if any(b in MODEL_FLAGS for b in values["backends"]) else []
    job = ctx.jobs.submit(kind, command, output, gpus=gpus)
    return submitted(ctx.jobs, job)


def dir_key(backend: str) -> str:
    """``acestep-captioner`` -> ``acestep_captioner_dir`` (a keyword the API accepts)."""
    return backend.replace("-", "_") + "_dir"
