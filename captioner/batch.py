"""Caption a folder: every song through the chosen backends, each sidecar written as soon as it is done.

A crash loses at most the song in progress (sidecars are written atomically, one per song, as
it finishes); a rerun with ``only_missing`` skips the songs whose fields are already there. The
next song's audio is decoded in a thread while the current one runs. Every value written records
its backend, kind (analysis or model), time and confidence in the sidecar's ``_provenance``;
the user's values (typed, hand-made, imported) are never overwritten unless ``overwrite``
(``acestep_train.dataset.provenance.may_write`` decides, field by field). One unreadable song or
one failing backend is recorded with the file name and the reason, and the batch goes on.

Where two backends give the same field, the one listed first wins, with one exception: BPM,
key and time signature measured from the audio (librosa) win over the ones a captioning model
mines from its prose, wherever each is listed, unless ``model_metadata`` asks for the model's.
A measured value whose confidence is below ``min_confidence`` is not written (a note says which
and why); another backend's value for that field is used instead, when there is one.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from acestep_train.atomic import atomic_write_text
from acestep_train.audio import AudioError
from acestep_train.dataset import ScanOptions, scan_folder, write_sidecar
from acestep_train.dataset.csv_io import write_csv
from acestep_train.dataset import provenance
from acestep_train.dataset.provenance import Origin, Policy
from acestep_train.dataset.record import Sample, is_unset
from acestep_train.events import EventLog
from captioner.backend import CONFIDENCE, LINES, METADATA, NOTES, RATE, WINNERS, Backend, load_audio
from captioner.http_client import CloudError
from captioner.lyrics import to_lrc

# What one song or one backend may fail with; anything else is a bug and stops the batch.
SONG_ERRORS = (CloudError, AudioError, OSError, ValueError, RuntimeError, KeyError, IndexError, TypeError)


@dataclass(frozen=True)
class BatchOptions:
    only_missing: bool = True  # skip songs that already have every field the backends give
    overwrite: bool = False  # replace the user's values too (typed, hand-made, imported; and an existing .lrc)
    tag: str = ""  # activation tag written to each sidecar's custom_tag
    csv_out: Path | None = None  # also write every song's fields to this CSV at the end
    timestamps: bool = False  # write timed lyrics as {stem}.lrc when a backend gives them
    max_seconds: float = 600.0  # audio read per song (ACE-Step trains on at most 10 minutes)
    stage: str = "caption"  # the name progress events carry
    model_metadata: bool = False  # BPM / key / meter from a captioning model win over measured ones
    min_confidence: float = 0.0  # measured values less sure than this (0-1) are not written

    def __post_init__(self):
        if self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")

    @property
    def policy(self) -> Policy:
        return Policy(overwrite=self.overwrite, prefer_model=self.model_metadata)


@dataclass
class BatchSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, warning)

    @staticmethod
    def combine(passes: list["BatchSummary"]) -> "BatchSummary":
        """Several passes over one folder: done in any pass; skipped only when skipped by every pass."""
        total = BatchSummary()
        for summary in passes:
            total.done += [name for name in summary.done if name not in total.done]
            total.failed += [item for item in summary.failed if item not in total.failed]
            total.notes += summary.notes
        if passes:
            total.skipped = [name for name in passes[0].skipped if all(name in p.skipped for p in passes)]
        return total


def needs_work(sample: Sample, backends: list[Backend]) -> bool:
    return any(is_unset(sample, name) for backend in backends for name in backend.essential)


def rank(backends: list[Backend], model_metadata: bool) -> list[Backend]:
    """The order metadata fields are taken in: measuring backends first (last with ``model_metadata``)."""
    return sorted(backends, key=lambda backend: backend.measures == model_metadata)


def drop_unsure(found: dict, backend: str, min_confidence: float, notes: list[str]) -> None:
    """Take out of one backend's ``found`` the values measured with less than ``min_confidence``."""
    sureness = found.get(CONFIDENCE, {})
    for name in [name for name, sure in sureness.items() if sure < min_confidence and name in found]:
        notes.append(f"{name} {found.pop(name)} from {backend} not written: confidence {sureness[name]:.2f} is "
                     f"below the minimum {min_confidence:.2f}")
    if sureness:
        found[CONFIDENCE] = {name: sure for name, sure in sureness.items() if name in found}


def collect(sample: Sample, audio, backends: list[Backend], summary: BatchSummary,
            model_metadata: bool = False, min_confidence: float = 0.0) -> dict:
    """Every backend's fields for one song; the first backend to give a field wins (measured
    metadata first, see the module docstring). ``CONFIDENCE`` holds the winner's confidence for
    the fields whose winner gave one, ``WINNERS`` the winning backend's name per field."""
    found_by: dict[str, dict] = {}
    for backend in backends:
        try:
            found = backend.caption(audio)
        except SONG_ERRORS as error:
            reason = str(error) if str(error).startswith(f"{backend.name}:") else f"{backend.name}: {error}"
            summary.failed.append((str(sample.audio_path), reason))
            continue
        notes = found.pop(NOTES, [])
        drop_unsure(found, backend.name, min_confidence, notes)
        summary.notes += [(sample.audio_path.name, note) for note in notes]
        found_by[backend.name] = found
    sureness = {name: found.pop(CONFIDENCE, {}) for name, found in found_by.items()}
    fields: dict = {}
    confidence: dict = {}
    winners: dict = {}
    for name in dict.fromkeys(name for found in found_by.values() for name in found):  # in order: no hash seed
        order = rank(backends, model_metadata) if name in METADATA else backends
        winner = winners[name] = next(b.name for b in order if name in found_by.get(b.name, {}))
        fields[name] = found_by[winner][name]
        if name in sureness[winner]:
            confidence[name] = sureness[winner][name]
    return fields | ({CONFIDENCE: confidence} if confidence else {}) | {WINNERS: winners}


def origins(winners: dict[str, str], confidence: dict[str, float], backends: list[Backend]) -> dict[str, Origin]:
    """Who wrote each field: a measuring backend is an analysis (with its confidence), any other a model."""
    measuring = {backend.name for backend in backends if backend.measures}
    return {name: provenance.analysis(by, confidence.get(name)) if by in measuring else provenance.model(by)
            for name, by in winners.items()}


def write_lrc(sample: Sample, lines, overwrite: bool) -> None:
    path = sample.audio_path.with_suffix(".lrc")
    if lines and (overwrite or not path.exists()):
        atomic_write_text(path, to_lrc(lines))


def caption_one(sample: Sample, audio, backends: list[Backend], options: BatchOptions, summary: BatchSummary):
    fields = collect(sample, audio, backends, summary, options.model_metadata, options.min_confidence)
    lines = fields.pop(LINES, None)
    written_by = origins(fields.pop(WINNERS), fields.pop(CONFIDENCE, {}), backends)
    fields.pop("duration", None)  # the scan reads it from the file header
    if options.tag:
        fields["custom_tag"] = options.tag
        written_by["custom_tag"] = provenance.user("--tag")
    if not fields:
        return
    try:
        sample.update(fields, written_by, options.policy)
        write_sidecar(sample)
        if options.timestamps:
            write_lrc(sample, lines, options.overwrite)
    except (ValueError, OSError) as error:
        summary.failed.append((str(sample.audio_path), f"writing the sidecar: {error}"))
        return
    summary.done.append(sample.audio_path.name)


def tag_only(sample: Sample, tag: str, overwrite: bool) -> None:
    """A skipped song still gets the activation tag (no model needed)."""
    if tag and sample.custom_tag != tag and sample.update({"custom_tag": tag}, provenance.user("--tag"),
                                                          Policy(overwrite=overwrite)):
        write_sidecar(sample)


def plan(folder: Path, backends: list[Backend], options: BatchOptions, summary: BatchSummary) -> list[Sample]:
    """The songs to run; unreadable ones are failures, finished ones (``only_missing``) skipped."""
    todo = []
    for sample in scan_folder(folder, ScanOptions()):
        if not sample.usable:
            summary.failed.append((str(sample.audio_path), sample.status))
        elif options.only_missing and not needs_work(sample, backends):
            summary.skipped.append(sample.audio_path.name)
            tag_only(sample, options.tag, options.overwrite)
        else:
            todo.append(sample)
    return todo


def load_models(backends: list[Backend], events: EventLog | None) -> None:
    """Load each model once, before the first song: a model that cannot load stops the pass here."""
    for backend in backends:
        if not backend.loaded:
            print(f"loading {backend.name} ...", flush=True)
            if events is not None:
                events.emit("loading", backend=backend.name)
            backend.load()


def _progress(events: EventLog | None, options: BatchOptions, index: int, total: int, name: str, start: float):
    if events is None:
        return
    elapsed = time.monotonic() - start
    events.emit("progress", stage=options.stage, done=index + 1, total=total, sample=name,
                eta_s=round(elapsed / (index + 1) * (total - index - 1), 1), elapsed_s=round(elapsed, 1))


def _warn_new(events: EventLog | None, summary: BatchSummary, seen: tuple[int, int]) -> None:
    if events is None:
        return
    for path, reason in summary.failed[seen[0]:]:
        events.emit("warning", message=f"{Path(path).name}: {reason}")
    for name, note in summary.notes[seen[1]:]:
        events.emit("warning", message=f"{name}: {note}")


def run_songs(todo: list[Sample], backends: list[Backend], options: BatchOptions, summary: BatchSummary,
              events: EventLog | None) -> None:
    """Each song in turn, the next one's audio decoded meanwhile (the first one's while models load)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as prefetch:
        def read(index: int) -> Future | None:
            if index >= len(todo):
                return None
            return prefetch.submit(load_audio, todo[index].audio_path, RATE, options.max_seconds)

        upcoming = read(0)
        load_models(backends if todo else [], events)
        start = time.monotonic()
        for index, sample in enumerate(todo):
            current, upcoming = upcoming, read(index + 1)
            seen = (len(summary.failed), len(summary.notes))
            try:
                audio = current.result()
            except SONG_ERRORS as error:
                summary.failed.append((str(sample.audio_path), f"reading the audio: {error}"))
            else:
                caption_one(sample, audio, backends, options, summary)
            _warn_new(events, summary, seen)
            _progress(events, options, index, len(todo), sample.audio_path.name, start)


def caption_folder(folder: str | Path, backends: list[Backend], options: BatchOptions = BatchOptions(),
                   events: EventLog | None = None) -> BatchSummary:
    """Run ``backends`` over the songs in ``folder``; progress, warnings and a summary go to ``events``."""
    summary = BatchSummary()
    todo = plan(Path(folder), backends, options, summary)
    if events is not None:
        events.emit("start", stage=options.stage, total=len(todo), skipped=len(summary.skipped),
                    unreadable=len(summary.failed), backends=[b.name for b in backends])
        _warn_new(events, summary, (0, 0))
    run_songs(todo, backends, options, summary, events)
    if options.csv_out:
        write_csv(Path(options.csv_out), scan_folder(folder, ScanOptions()))
    if events is not None:
        emit_summary(events, summary, options.stage)
    return summary


def emit_summary(events: EventLog, summary: BatchSummary, stage: str) -> None:
    events.emit("summary", stage=stage, done=len(summary.done), skipped=len(summary.skipped),
                failed=[list(item) for item in summary.failed], notes=len(summary.notes))
