"""Which songs of a tensor folder are held out for validation, and which train.

A held-out song never trains: ``Split.train`` is the only list the epoch's windows are built from
(so no repeat and no DDP shard can reach a held-out song). The held-out songs are, in order:
the songs marked in the Dataset tab (``holdout`` in the song's sidecar, carried into the tensor
manifest by preprocessing), plus those named in ``validation.songs``; when neither names any, a
seeded draw of ``validation.fraction`` of the songs (at least one). With validation off nothing is
held out. Every choice is checked: an unknown name, a split that leaves no song to train on or
a dataset of one song is refused with the setting's name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Split:
    train: tuple[str, ...]  # tensor files that train
    held_out: tuple[str, ...]  # tensor files only evaluated
    how: str  # "off" | "marked" | "listed" | "marked+listed" | "fraction"

    def as_dict(self) -> dict:
        return {"train": list(self.train), "held_out": list(self.held_out), "how": self.how}


def names_of(file: str, entry: dict) -> set[str]:
    """Every name a user may give a song by: sample id, tensor file, audio file name and its stem."""
    names = {file, Path(file).stem}
    source = entry.get("source")
    if isinstance(source, str) and source:
        names |= {Path(source).name, Path(source).stem}
    return names


def entries_by_file(manifest) -> dict[str, dict]:
    return {entry["file"]: entry for entry in manifest.samples.values()}


def listed(files: list[str], entries: dict[str, dict], songs: list[str]) -> set[str]:
    chosen = set()
    for song in songs:
        matches = {f for f in files if song.strip() in names_of(f, entries.get(f, {}))}
        if not matches:
            raise ValueError(f"validation.songs: {song!r} is not a song of this tensor folder "
                             f"(give a sample id, tensor file or audio file name, e.g. {files[0]!r})")
        chosen |= matches
    return chosen


def drawn(files: list[str], fraction: float, seed: int) -> set[str]:
    count = max(1, round(fraction * len(files)))
    return set(random.Random(f"holdout:{seed}").sample(sorted(files), count))


def choose_split(files: list[str], manifest, validation) -> Split:
    """The run's split (see the module's docstring); ``validation`` is a ``ValidationConfig``."""
    files = sorted(files)
    if not validation.enabled:
        return Split(tuple(files), (), "off")
    if len(files) < 2:
        raise ValueError(f"validation.every_steps: validation needs at least 2 songs (one to train on, one "
                         f"held out); this tensor folder has {len(files)}")
    entries = entries_by_file(manifest)
    marked = {f for f in files if entries.get(f, {}).get("holdout") is True}
    named = listed(files, entries, list(validation.songs))
    how = "+".join(word for word, found in (("marked", marked), ("listed", named)) if found)
    held = marked | named
    if not held:
        if validation.fraction <= 0:
            raise ValueError("validation.every_steps is set but no song is held out: mark songs for validation in "
                             "the Dataset tab (then preprocess), name them in validation.songs, or set "
                             "validation.fraction")
        held, how = drawn(files, validation.fraction, validation.seed), "fraction"
    if len(held) >= len(files):
        raise ValueError(f"validation: all {len(files)} songs are held out; leave at least one to train on")
    return Split(tuple(f for f in files if f not in held), tuple(f for f in files if f in held), how)
