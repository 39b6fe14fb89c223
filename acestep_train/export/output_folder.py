"""One adapter (or merged model) per output folder, and a user's own files never overwritten unasked.

Every export and merge writes ``acestep_studio_files.json``: each file the studio wrote there with
its size and sha256, and what was written (``identity``: the adapter's content hash, for a merge
also the base and strength). Before anything is written, ``check_output`` reads the folder:

- a file at the path, or a symbolic link, is refused with a clear error;
- files the studio did not write (not in the manifest, or changed since) refuse the folder unless
  ``overwrite``; with it they are moved to ``<folder>.replaced-<UTC time>/`` beside it (never deleted);
- an earlier studio export of something else is replaced only with ``overwrite``; re-exporting the
  same adapter (another format, say) proceeds;
- sub-folders that hold studio outputs of their own (``<export>/<format>/`` from a several-format export)
  are neither counted nor touched.

The new files are written and sealed in a temporary folder beside the target; then the earlier
export's files are removed (exactly those the manifest lists), the new ones moved in, and the
manifest last. A folder that is wholly ours is swapped in one rename.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from acestep_train.atomic import atomic_write_json
from acestep_train.atomic_dir import (
    MARKER,
    PARTIAL,
    WRITING,
    _swap_in,
    atomic_dir,
    fsync_path,
    is_complete,
    refuse_symlink,
    sha256_file,
)

MANIFEST = "acestep_studio_files.json"
SHOWN = 8  # file names listed in an error


class OutputFolderError(ValueError):
    """The output folder holds something this write must not replace without the user's say-so."""


@dataclass
class OutputPlan:
    target: Path
    identity: dict
    ours: dict = field(default_factory=dict)  # relative name -> {size, sha256}: the earlier export's files
    foreign: list[str] = field(default_factory=list)  # files the studio did not write
    backup: Path | None = None  # where ``foreign`` go (overwrite only)
    whole: bool = False  # the folder is wholly ours (or absent): swap it in one rename


def _manifest(folder: Path) -> dict:
    """The earlier export's manifest, or an older studio folder's completion marker, or {}."""
    for name in (MANIFEST, MARKER):
        try:
            found = json.loads((folder / name).read_text(encoding="utf-8"))
            if isinstance(found.get("files"), dict):
                return found
        except (OSError, ValueError, AttributeError):
            continue
    return {}


def _nested(folder: Path) -> list[Path]:
    """Sub-folders that are studio outputs of their own (``<export>/<format>/``): left as they are."""
    return [manifest.parent for manifest in folder.rglob(MANIFEST) if manifest.parent != folder]


def _present(folder: Path, nested: list[Path]) -> list[str]:
    names = []
    for path in sorted(folder.rglob("*")):
        if path.name in (MANIFEST, MARKER, WRITING) or (path.is_dir() and not path.is_symlink()):
            continue
        if any(path.is_relative_to(inner) for inner in nested):
            continue
        names.append(path.relative_to(folder).as_posix())
    return names


def _unchanged(path: Path, entry: dict) -> bool:
    return (path.is_file() and not path.is_symlink() and path.stat().st_size == entry.get("size")
            and sha256_file(path) == entry.get("sha256"))


def _listing(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def check_output(target: Path, identity: dict, overwrite: bool, what: str = "export") -> OutputPlan:
    """What writing into ``target`` would replace; refused (before anything is written) unless allowed."""
    target = Path(target)
    refuse_symlink(target.parent, "parent folder")
    refuse_symlink(target, f"{what} folder")
    if target.exists() and not target.is_dir():
        raise OutputFolderError(f"{target}: is a file, not a folder; name the folder to write the {what} into")
    if not target.exists():
        return OutputPlan(target, identity, whole=True)
    manifest = _manifest(target)
    ours = {name: entry for name, entry in manifest.get("files", {}).items() if _unchanged(target / name, entry)}
    nested = _nested(target)
    foreign = [name for name in _present(target, nested) if name not in ours]
    if foreign and not overwrite:
        raise OutputFolderError(
            f"{target}: holds files the studio did not write ({_listing(foreign)}); choose an empty or new folder, "
            f"or replace them (--overwrite, or tick 'Replace the earlier export': they are moved to "
            f"{target.name}.replaced-<time>/ beside it)")
    earlier = manifest.get("identity")
    if ours and earlier != identity and not overwrite:
        described = earlier.get("description", "another adapter") if isinstance(earlier, dict) else "an older version"
        raise OutputFolderError(
            f"{target}: holds an earlier {what} ({described}); replace it (--overwrite, or tick 'Replace the earlier "
            "export'), or choose another folder")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    backup = target.parent / f"{target.name}.replaced-{stamp}" if foreign else None
    whole = not foreign and not nested and is_complete(target)  # a swap would drop the nested outputs
    return OutputPlan(target, identity, ours, foreign, backup, whole=whole)


@contextmanager
def studio_output(plan: OutputPlan) -> Iterator[Path]:
    """Yield a temp folder beside ``plan.target`` to write into; then put it in place (see the module)."""
    staging = plan.target.parent / f".{plan.target.name}{PARTIAL}{uuid.uuid4().hex[:8]}"
    with atomic_dir(staging) as tmp:
        yield tmp
    try:
        written = json.loads((staging / MARKER).read_text(encoding="utf-8"))["files"]
        atomic_write_json(staging / MANIFEST, {"files": written, "identity": plan.identity})
        if plan.whole:
            _swap_in(staging, plan.target)
        else:
            _move_in(plan, staging, written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_in(plan: OutputPlan, staging: Path, written: dict) -> None:
    """Earlier export's files out, the user's (``overwrite``) to the backup, the new ones in, manifest last."""
    target = plan.target
    for name in plan.ours:
        if name not in written:
            (target / name).unlink(missing_ok=True)
    for name in plan.foreign:
        destination = plan.backup / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target / name, destination)
    for name in written:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, destination)
    os.replace(staging / MANIFEST, target / MANIFEST)
    (target / MARKER).unlink(missing_ok=True)  # an older studio folder's marker no longer describes it
    fsync_path(target)


def moved_note(plan: OutputPlan) -> str:
    """What the user must hear after an ``overwrite``: where their files went."""
    return f"; moved {len(plan.foreign)} file(s) the studio did not write to {plan.backup}" if plan.foreign else ""
