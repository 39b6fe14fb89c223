"""What a preprocessing run must do: which samples to (re)encode, skip or remove.

A sample is skipped only when its output exists and its content hash (audio bytes +
text + settings + model fingerprint) matches the manifest; anything else is redone.
Outputs of samples no longer in the dataset are stale and removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from acestep_train.paths import named_location
from acestep_train.prompts import SongText
from acestep_train.preprocess.vae_encode import TileSettings

NORMALIZE_MODES = ("peak", "lufs", "none")


@dataclass(frozen=True)
class PreprocessSettings:
    max_duration: float = 240.0  # seconds; longer songs are truncated
    normalize: str = "peak"  # peak (-1 dBFS) | lufs (-14 LUFS) | none
    two_pass: bool = False  # low VRAM: VAE + text encoder first, condition encoder second
    tiles: TileSettings = field(default_factory=TileSettings)

    def __post_init__(self):
        if self.max_duration <= 0:
            raise ValueError(f"max_duration must be > 0 seconds, got {self.max_duration}")
        if self.normalize not in NORMALIZE_MODES:
            raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, got {self.normalize!r}")

    def output_key(self) -> dict:
        """Settings that change the tensors (two_pass does not: both modes write identical files)."""
        return {"max_duration": self.max_duration, "normalize": self.normalize, "tiles": asdict(self.tiles)}


@dataclass(frozen=True)
class PreprocessItem:
    sample_id: str
    audio_path: Path
    text: SongText  # duration is filled in from the audio actually encoded
    holdout: bool = False  # marked for validation in the Dataset tab: recorded in the manifest, not hashed


def sample_id_for(audio_path: Path, dataset_root: Path) -> str:
    """A stable, file-name-safe id: the stem plus a short hash of the path relative to the dataset.

    A symlinked song is named by the link (its folder resolved, its own name kept), never by its
    target; a song outside the dataset's folder (a ``dataset.json`` entry elsewhere) by a relative
    path with ``..``.
    """
    relative = str(audio_path)
    if audio_path.is_absolute():
        location, root = named_location(audio_path), dataset_root.resolve()
        relative = (str(location.relative_to(root)) if location.is_relative_to(root)
                    else os.path.relpath(location, root))
    stem = re.sub(r"[^\w.-]+", "_", audio_path.stem)[:60] or "sample"
    return f"{stem}-{hashlib.sha1(relative.encode()).hexdigest()[:8]}"


def content_hash(item: PreprocessItem, settings: PreprocessSettings, fingerprint: str) -> str:
    digest = hashlib.sha256()
    with open(item.audio_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    text = asdict(item.text)
    text.pop("duration")
    digest.update(json.dumps([text, settings.output_key(), fingerprint], sort_keys=True).encode())
    return digest.hexdigest()


@dataclass
class Plan:
    todo: list[tuple[PreprocessItem, str]]  # (item, content hash)
    skipped: list[str]
    stale: list[str]  # sample ids to remove
    hash_failures: list[tuple[str, str]]  # (audio path, reason): unreadable before we even start


def make_plan(items: list[PreprocessItem], known: dict[str, dict], output_dir: Path,
              settings: PreprocessSettings, fingerprint: str) -> Plan:
    plan = Plan([], [], [], [])
    current = set()
    for item in items:
        current.add(item.sample_id)
        try:
            digest = content_hash(item, settings, fingerprint)
        except OSError as error:
            plan.hash_failures.append((str(item.audio_path), f"unreadable: {error.strerror or error}"))
            continue
        entry = known.get(item.sample_id)
        if entry and entry.get("content_hash") == digest and (output_dir / entry["file"]).is_file():
            plan.skipped.append(item.sample_id)
        else:
            plan.todo.append((item, digest))
    plan.stale = sorted(set(known) - current)
    return plan
