"""Marking a song for validation: ``holdout: true`` in its ``{stem}.json`` (the user's value, with provenance).

Preprocessing carries the mark into the tensor manifest; a run that validates then never trains on
the song and measures its validation loss on it (``acestep_train.train.holdout``). The Dataset tab's
"Hold out for validation" box and ``dataset --hold-out`` / ``--train-on`` write it.
"""

from __future__ import annotations

from pathlib import Path

from acestep_train.dataset import provenance
from acestep_train.dataset.provenance import Policy
from acestep_train.dataset.record import Sample
from acestep_train.dataset.sidecars import apply_sidecars, write_sidecar


def set_holdout(audio: Path, held: bool, txt_mode: str = "caption") -> bool:
    """Mark (or unmark) one song; True when its sidecar changed. A song whose sidecar cannot be read is refused."""
    if not audio.is_file():
        raise FileNotFoundError(f"{audio}: no such song")
    sample = Sample(audio)
    apply_sidecars(sample, txt_mode)
    if not sample.usable:
        raise ValueError(f"{audio.name}: {sample.status}; fix it before marking it")
    changed = sample.update({"holdout": held}, provenance.user(), Policy(overwrite=True))
    if changed:
        write_sidecar(sample)
    return bool(changed)


def is_held_out(audio: Path, txt_mode: str = "caption") -> bool:
    sample = Sample(audio)
    apply_sidecars(sample, txt_mode)
    return sample.holdout
