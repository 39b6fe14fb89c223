"""The checkpoints of a run: written as atomic folders, listed only when complete, pruned safely.

``<output>/checkpoints/<step>/`` appears only whole (see ``acestep_train.atomic_dir``).
"latest" is the newest complete checkpoint; a folder without the completion marker (a save
interrupted by an older version, or copied in by hand) is never resumed from or offered, and
is reported once as a warning. Pruning removes only complete folders we wrote, never through
a symbolic link: a ``checkpoints``, ``best`` or ``final`` that is a symlink is refused.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from acestep_train.atomic_dir import IncompleteFolder, is_complete, refuse_symlink, verify

LATEST = "latest"
RUN_FOLDERS = ("checkpoints", "best", "final", "final-ema", "samples")


@dataclass(frozen=True)
class Listing:
    complete: list[Path]  # oldest step first
    partial: list[Path]  # step folders without a completion marker


def check_run_folders(output: Path) -> None:
    """Refuse a run folder whose checkpoints/, best/, final/, final-ema/ or samples/ is a symbolic link."""
    refuse_symlink(output, "run folder")
    for name in RUN_FOLDERS:
        refuse_symlink(output / name, f"run's {name} folder")


def list_checkpoints(checkpoints: Path) -> Listing:
    refuse_symlink(checkpoints, "checkpoints folder")
    if not checkpoints.is_dir():
        return Listing([], [])
    steps = sorted((p for p in checkpoints.iterdir() if p.name.isdigit() and p.is_dir() and not p.is_symlink()),
                   key=lambda p: int(p.name))
    return Listing([p for p in steps if is_complete(p)], [p for p in steps if not is_complete(p)])


def latest_checkpoint(checkpoints: Path, warn=None) -> Path | None:
    """The newest complete checkpoint (its files verified); partial ones are named in a warning."""
    listing = list_checkpoints(checkpoints)
    if listing.partial:
        message = (f"ignoring {len(listing.partial)} incomplete checkpoint folder(s) in {checkpoints} "
                   f"(an interrupted save): {', '.join(p.name for p in listing.partial)}")
        (warn or warnings.warn)(message)
    for folder in reversed(listing.complete):
        try:
            verify(folder)
            return folder
        except IncompleteFolder as error:
            (warn or warnings.warn)(f"ignoring a damaged checkpoint: {error}")
    return None


def resolve_resume(resume_from: str, output: Path, warn=None) -> Path:
    """``latest`` -> the newest complete checkpoint of ``output``; a folder -> itself, if complete."""
    if resume_from == LATEST:
        folder = latest_checkpoint(output / "checkpoints", warn)
        if folder is None:
            raise FileNotFoundError(f"{output / 'checkpoints'}: no complete checkpoint to resume from")
        return folder
    folder = Path(resume_from)
    if folder.is_dir() and not is_complete(folder):
        raise IncompleteFolder(f"{folder}: not a complete checkpoint (no completion marker: its save was "
                               f"interrupted); resume from '{LATEST}' instead")
    if folder.is_dir():
        verify(folder)
    return folder


def prune(checkpoints: Path, keep: int, upto_step: int | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` complete checkpoints; only real folders carrying our marker.

    ``upto_step``: the step just saved; a checkpoint past it (a run resumed from an earlier step) is
    another line of history and never counted or removed here, so the run's own saves are never "older"."""
    if keep <= 0:
        return []
    complete = list_checkpoints(checkpoints).complete
    if upto_step is not None:
        complete = [p for p in complete if int(p.name) <= upto_step]
    removed = complete[:-keep]
    for old in removed:
        if old.is_symlink() or not is_complete(old):  # checked again just before deleting
            continue
        shutil.rmtree(old)
    return removed
