"""A whole captioning run: backends built, one or two passes, models freed, CSV and summary written.

``run_job`` is what the CLI (and so every UI job) runs; the apps may also call it in-process.
Two-pass: the backends that do not write lyrics (librosa, the ACE-Step captioner, Gemini)
run over every song first and are unloaded, then the lyrics backends run over every song, so
only one big model is on the GPU at a time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_text
from acestep_train.dataset import ScanOptions, scan_folder
from acestep_train.dataset.csv_io import write_csv
from acestep_train.events import EventLog
from captioner.backend import Backend
from captioner.batch import BatchOptions, BatchSummary, caption_folder, emit_summary
from captioner.config import KEY_VARIABLES, CaptionConfig


def passes(backends: list[Backend], two_pass: bool) -> list[tuple[str, list[Backend]]]:
    """(stage name, backends) in the order they run."""
    if not two_pass:
        return [("caption", backends)]
    groups = [("caption", [b for b in backends if not b.gives_lyrics]), ("lyrics", [b for b in backends if b.gives_lyrics])]
    return [(stage, group) for stage, group in groups if group]


def run_passes(config: CaptionConfig, backends: list[Backend], events: EventLog | None) -> BatchSummary:
    done = []
    for stage, group in passes(backends, config.two_pass):
        options = BatchOptions(config.only_missing, config.overwrite, config.tag, None, config.timestamps,
                               config.max_seconds, stage, config.model_metadata, config.min_confidence)
        try:
            done.append(caption_folder(config.audio_dir, group, options, events))
        finally:
            for backend in group:  # free the GPU before the next pass, and on the way out of a crash
                backend.unload()
    return BatchSummary.combine(done)


def run_job(config: CaptionConfig, api_keys: dict[str, str] | None = None) -> BatchSummary:
    """Caption ``config.audio_dir``; progress goes to ``config.events`` when set.

    ``api_keys``: {backend name or variable name: key} from the UI; the environment fills the rest.
    """
    from captioner.registry import make_backends

    events = EventLog(config.events) if config.events else None
    backends = make_backends(config, api_keys)
    summary = run_passes(config, backends, events)
    if config.csv_out:
        write_csv(config.csv_out, scan_folder(config.audio_dir, ScanOptions()))
    if events is not None:
        emit_summary(events, summary, "all")
    return summary


def write_keys_file(path: str | Path, api_keys: dict[str, str]) -> Path:
    """Hand keys from the UI to a job process without a command line or a saved environment.

    The file is readable by its owner only; ``read_keys_file`` deletes it as it reads it.
    """
    unknown = [name for name in api_keys if name not in KEY_VARIABLES and name not in KEY_VARIABLES.values()]
    if unknown:
        raise ValueError(f"api_keys: unknown service {unknown[0]!r}; use {', '.join(KEY_VARIABLES)}")
    path = Path(path)
    atomic_write_text(path, json.dumps({k: v for k, v in api_keys.items() if v}))  # a mkstemp file: mode 0600
    os.chmod(path, 0o600)
    return path


def read_keys_file(path: str | Path) -> dict[str, str]:
    """The keys, and the file is gone."""
    path = Path(path)
    try:
        data = safe_json.load_file(path)
    finally:
        path.unlink(missing_ok=True)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{path}: a keys file holds one JSON object of strings")
    return data
