"""Caption a folder: every song through the chosen backends, each sidecar written as soon as it is done.

A crash loses at most the song in progress; a rerun with ``only_missing`` skips the songs
whose fields are already there. The next song's audio is decoded while the current one runs.
Fields the user edited are never overwritten unless ``overwrite``; one failing song or backend
is recorded with its reason and the batch goes on.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from acestep_train.audio import AudioError
from acestep_train.dataset import ScanOptions, scan_folder, write_sidecar
from acestep_train.dataset.csv_io import write_csv
from acestep_train.dataset.record import is_unset
from acestep_train.events import EventLog
from captioner.backend import Backend, load_audio
from captioner.cloud import CloudError

BACKEND_ERRORS = (CloudError, AudioError, OSError, ValueError, RuntimeError)


@dataclass(frozen=True)
class BatchOptions:
    only_missing: bool = True  # skip songs that already have every field the backends give
    overwrite: bool = False  # replace fields the user edited
    tag: str = ""  # activation tag written to each sidecar's custom_tag
    csv_out: Path | None = None


@dataclass
class BatchSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def needs_work(sample, backends: list[Backend]) -> bool:
    return any(is_unset(sample, name) for backend in backends for name in backend.essential)


def caption_one(sample, audio, backends: list[Backend], options: BatchOptions, summary: BatchSummary) -> None:
    fields = {}
    for backend in backends:
        try:
            fields.update(backend.caption(audio))
        except BACKEND_ERRORS as error:
            summary.failed.append((str(sample.audio_path), f"{backend.name}: {error}"))
    fields.pop("duration", None)
    if options.tag:
        fields["custom_tag"] = options.tag
    if fields:
        sample.update(fields, source="+".join(b.name for b in backends), overwrite=options.overwrite)
        write_sidecar(sample)
        summary.done.append(sample.audio_path.name)


def caption_folder(folder: str | Path, backends: list[Backend], options: BatchOptions = BatchOptions(),
                   events: EventLog | None = None) -> BatchSummary:
    samples = [s for s in scan_folder(folder, ScanOptions()) if s.usable]
    summary = BatchSummary()
    todo = [s for s in samples if not options.only_missing or needs_work(s, backends)]
    summary.skipped = [s.audio_path.name for s in samples if s not in todo]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        upcoming = prefetch.submit(load_audio, todo[0].audio_path, 16000, 600) if todo else None
        for index, sample in enumerate(todo):
            current = upcoming
            upcoming = prefetch.submit(load_audio, todo[index + 1].audio_path, 16000, 600) \
                if index + 1 < len(todo) else None
            try:
                audio = current.result()
            except BACKEND_ERRORS as error:
                summary.failed.append((str(sample.audio_path), str(error)))
                continue
            caption_one(sample, audio, backends, options, summary)
            if events is not None:
                elapsed = time.monotonic() - start
                events.emit("progress", stage="caption", done=index + 1, total=len(todo), sample=sample.audio_path.name,
                            eta_s=round(elapsed / (index + 1) * (len(todo) - index - 1), 1))
    if options.csv_out:
        write_csv(Path(options.csv_out), scan_folder(folder, ScanOptions()))
    if events is not None:
        events.emit("summary", done=len(summary.done), skipped=len(summary.skipped), failed=summary.failed)
    return summary
