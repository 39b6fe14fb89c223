"""Scores on the listening bench, beside the spectral distance and the loss (CLAP embeddings).

Per clip (every cell, and the base model's render of each prompt):
- ``style``: cosine similarity of the clip's CLAP audio embedding to the mean embedding of the
  reference songs (the run's training songs): how far a checkpoint x strength moved toward them,
  read against the base's own ``style``;
- ``adherence``: cosine similarity of the clip's audio embedding to the CLAP text embedding of
  the caption it was rendered with: falls when an adapter stops following prompts.
Per checkpoint (and for the base's clips): ``kad``, the kernel audio distance (``kad.py``) of its
clips' 10 s windows to the reference songs' windows; lower is closer. It needs two clips' windows
at least; with fewer it is None and ``scoring.notes`` says why.

A clip's scores depend on its audio, its prompt and the reference only: each clip is embedded on
its own, with no random crop, so re-rendering other cells (another seed, another adapter) leaves
them bit-identical. ``score_bench`` finds CLAP and the reference; without CLAP (or without songs to
compare with) it records why and how to fix it in ``grid.json`` (``scoring.unavailable``) and the
bench stays as it was.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json
from acestep_train.audio import decode
from acestep_train.compare.clap import ClapEmbedder, ClapMissing, clip_embedding, find_clap, unit
from acestep_train.compare.kad import KadReference
from acestep_train.compare.reference import Reference, embed_reference, training_songs
from acestep_train.events import EventLog

def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(unit(a.double()) @ unit(b.double()))


def _kad(windows: list[torch.Tensor], reference: KadReference | None, who: str, notes: list[str]) -> float | None:
    if reference is None:
        return None
    clips = torch.cat(windows) if windows else torch.empty(0)
    if len(clips) < 2:
        notes.append(f"{who}: KAD needs 2 or more clips (add strengths or prompts)")
        return None
    return reference.kad(clips)


class _Scorer:
    """One clip at a time: its embedding against the centroid and its prompt's text embedding."""

    def __init__(self, embedder: ClapEmbedder, reference: Reference, prompts: list[str], root: Path):
        self.embedder, self.root = embedder, root
        self.centroid = reference.centroid()
        self.texts = embedder.text(prompts)

    def clip(self, relative: str, prompt: int) -> tuple[dict, torch.Tensor]:
        windows = self.embedder.audio_windows(*decode(self.root / relative))
        embedding = clip_embedding(windows)
        return {"style": cosine(embedding, self.centroid), "adherence": cosine(embedding, self.texts[prompt])}, windows


def score_grid(grid_path: str | Path, embedder: ClapEmbedder, reference: Reference, extra: dict | None = None) -> dict:
    """Add ``style``/``adherence``/``kad`` to every cell, the base and each checkpoint; returns ``scoring``."""
    grid_path = Path(grid_path)
    grid = safe_json.load_file(grid_path)
    started = time.perf_counter()
    scorer = _Scorer(embedder, reference, grid["prompts"], grid_path.parent)
    ref_windows, notes = reference.windows(), []
    kad_reference = KadReference.of(ref_windows) if len(ref_windows) >= 2 else None  # once for every set
    bandwidth = kad_reference.bandwidth if kad_reference else None
    if kad_reference is None:
        notes.append("KAD needs 2 or more 10 s windows of reference songs")
    base_scores, base_windows = [], []
    for number, relative in enumerate(grid["base"]):
        scores, windows = scorer.clip(relative, number)
        base_scores.append(scores)
        base_windows.append(windows)
    per_checkpoint: dict[str, list[torch.Tensor]] = {}
    for cell in grid["cells"]:
        scores, windows = scorer.clip(cell["audio"], cell["prompt"])
        cell.update(scores)
        per_checkpoint.setdefault(cell["checkpoint"], []).append(windows)
    for checkpoint in grid["checkpoints"]:
        label = checkpoint["label"]
        checkpoint["kad"] = _kad(per_checkpoint.get(label, []), kad_reference, label, notes)
        for cell in (c for c in grid["cells"] if c["checkpoint"] == label):
            cell["kad"] = checkpoint["kad"]
    clips = len(grid["base"]) + len(grid["cells"])
    grid["base_scores"] = {"clips": base_scores, "kad": _kad(base_windows, kad_reference, "base", notes)}
    grid["scoring"] = {
        "clap": str(embedder.folder), "clap_fingerprint": embedder.fingerprint(), "device": embedder.device,
        "reference_songs": sorted(reference.songs), "reference_windows": len(ref_windows),
        "skipped": reference.skipped, "cached_songs": reference.cached, "kad_bandwidth": bandwidth,
        "clips": clips, "seconds_per_clip": round((time.perf_counter() - started) / max(clips, 1), 4),
        "notes": notes, **(extra or {})}
    atomic_write_json(grid_path, grid)
    return grid["scoring"]


def mark_unavailable(grid_path: str | Path, reason: str) -> dict:
    """Record in ``grid.json`` why there are no scores (and how to get them); the bench is otherwise untouched."""
    grid = safe_json.load_file(grid_path)
    grid["scoring"] = {"unavailable": reason}
    atomic_write_json(Path(grid_path), grid)
    return grid["scoring"]


def score_bench(grid_path: str | Path, clap: str | None, checkpoint_dirs, run: str, reference: str | None = None,
                device: str | None = None, events: EventLog | None = None) -> dict:
    """Find CLAP and the reference songs, score the grid. Without CLAP weights, or without songs to compare
    with, ``grid.json`` records why and how to fix it instead, and the rendered bench stays as it was."""
    grid_path = Path(grid_path)
    started = time.perf_counter()
    try:
        folder = find_clap(clap, list(checkpoint_dirs))
        if events:  # only once there is something to score: no bar left at 0 when there is not
            events.emit("progress", done=0, total=1, stage="scoring (CLAP)")
        embedder = ClapEmbedder.load(folder, device)
        embedded = embed_reference(embedder, training_songs(run, reference), grid_path.parent)
    except (ClapMissing, FileNotFoundError, ValueError) as missing:
        if events:
            events.emit("warning", message=f"no scores: {missing}")
        return mark_unavailable(grid_path, str(missing))
    scoring = score_grid(grid_path, embedder, embedded,
                         {"load_and_reference_seconds": round(time.perf_counter() - started, 3)})
    if events:
        events.emit("progress", done=1, total=1, stage="scored (CLAP)")
        events.emit("scored", grid=str(grid_path), seconds_per_clip=scoring["seconds_per_clip"],
                    skipped=scoring["skipped"])
    return scoring
