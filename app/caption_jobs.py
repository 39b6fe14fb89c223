"""Captioning and audio analysis as a job (``python -m captioner``), for the Auto-label tab and the captioner app.

Fields the user edited are kept unless ``overwrite`` (the captioner's batch decides per field).
Local model backends occupy the GPU; librosa and the cloud backends do not, so they may run
beside a training job.
"""

from __future__ import annotations

from app.context import AppContext
from app.errors import UserError
from app.status import submitted

BACKENDS = ["librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini", "openai-whisper",
            "elevenlabs-scribe"]
MODEL_FLAGS = {"whisper": "--whisper-dir", "acestep-captioner": "--captioner-dir",
               "acestep-transcriber": "--transcriber-dir"}


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
    return command


def submit_captioning(ctx: AppContext, kind: str, values: dict) -> str:
    output = ctx.work_root / kind
    command = captioner_command(ctx, values, str(output / "events.jsonl"))
    gpus = [0] if any(b in MODEL_FLAGS for b in values["backends"]) else []
    job = ctx.jobs.submit(kind, command, output, gpus=gpus)
    return submitted(ctx.jobs, job)


def dir_key(backend: str) -> str:
    """``acestep-captioner`` -> ``acestep_captioner_dir`` (a keyword the API accepts)."""
    return backend.replace("-", "_") + "_dir"
