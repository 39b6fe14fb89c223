"""Atomic folders: a checkpoint, best/, final/, an export or a merge appears whole or not at all.

The folder is written under a temporary name in the same parent (``.<name>.partial-<id>``,
holding a ``.studio-writing`` marker so only our own leftovers are ever removed). When the
caller is done, every file is fsynced, read back and hashed, each safetensors file is checked
to be whole, and a ``.studio-complete`` marker listing every file with its size and sha256 is
written; then the folder is renamed into place and the parent fsynced. A kill -9 or a full
disk at any moment leaves either the previous folder or none, never a half-written one under
the real name. Readers ask ``is_complete`` (marker present) or ``verify`` (every hash checked).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MARKER = ".studio-complete"
WRITING = ".studio-writing"
PARTIAL = ".partial-"
CHUNK = 1 << 20
#: the exact names ``atomic_dir`` gives its temp folders (a kill between mkdir and the marker leaves one empty)
OWN_TEMP = re.compile(r"^\..+\.partial-[0-9a-f]{8}$")


class IncompleteFolder(ValueError):
    """A folder without a valid completion marker, or whose files differ from it."""


def refuse_symlink(path: Path, what: str = "folder") -> None:
    """A symlink where we write or prune could send writes and deletions outside the roots."""
    if path.is_symlink():
        raise ValueError(f"{path}: this {what} is a symbolic link; refusing to write or delete through it "
                         "(replace it with a real folder)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder's entry list (POSIX; a no-op where folders cannot be opened)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() and hasattr(os, "O_DIRECTORY") else 0)
    try:
        fd = os.open(path, flags)
    except (IsADirectoryError, PermissionError):
        return  # Windows cannot open a folder
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_safetensors(path: Path) -> None:
    """A safetensors file is whole when its header parses and its last tensor ends at the file's end."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise IncompleteFolder(f"{path}: truncated safetensors file ({size} bytes)")
        (length,) = struct.unpack("<Q", raw)
        if length > size - 8:
            raise IncompleteFolder(f"{path}: truncated safetensors header")
        header = json.loads(handle.read(length))
    end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"), default=0)
    if 8 + length + end != size:
        raise IncompleteFolder(f"{path}: truncated safetensors data ({size} bytes, expected {8 + length + end})")


def files_of(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise IncompleteFolder(f"{path}: a symbolic link inside a studio folder")
        if path.is_file() and path.name not in (MARKER, WRITING):
            found.append(path)
    return found


def seal(folder: Path) -> dict:
    """fsync, read back and hash every file; write and fsync the completion marker. Returns the manifest."""
    manifest = {}
    for path in files_of(folder):
        fsync_path(path)
        if path.suffix == ".safetensors":
            check_safetensors(path)
        manifest[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    marker = folder / MARKER
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump({"files": manifest}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    (folder / WRITING).unlink(missing_ok=True)
    verify(folder)  # read the marker back: what we renamed into place is what we wrote
    return manifest


def umask_modes(folder: Path, mode: int) -> None:
    """Every file a library wrote into our fresh folder gets the umask's mode (safetensors writes 0600)."""
    for path in files_of(folder):
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)


def is_complete(folder: Path) -> bool:
    """A real folder (not a symlink) carrying a readable completion marker."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        json.loads((folder / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def verify(folder: Path) -> None:
    """Every file the marker lists is present with its size and sha256 (IncompleteFolder otherwise)."""
    if not is_complete(folder):
        raise IncompleteFolder(f"{folder}: not a complete folder (no {MARKER} marker: a save was interrupted)")
    listed = json.loads((folder / MARKER).read_text(encoding="utf-8"))["files"]
    for name, expected in listed.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != expected["size"] or sha256_file(path) != expected["sha256"]:
            raise IncompleteFolder(f"{path}: differs from what was saved (damaged or changed since)")


@contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it is sealed and renamed to ``target``.

    An existing ``target`` is replaced (moved aside, then removed). On an exception the
    temporary folder is removed and ``target`` is untouched.
    """
    target = Path(target)
    refuse_symlink(target.parent, "parent folder")
    refuse_symlink(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}{PARTIAL}{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    (tmp / WRITING).touch()
    try:
        yield tmp
        umask_modes(tmp, (tmp / WRITING).stat().st_mode & 0o666)
        seal(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
    os.rename(tmp, target)
    fsync_path(target.parent)
    if old is not None:
        shutil.rmtree(old)


def stale_partials(parent: Path) -> list[Path]:
    """Our own leftovers from an interrupted save: hidden temp folders carrying the writing marker, and
    empty folders named exactly as ``atomic_dir`` names its temp folders (killed before the marker)."""
    if not parent.is_dir() or parent.is_symlink():
        return []
    return [p for p in parent.iterdir() if p.name.startswith(".") and (PARTIAL in p.name or ".old-" in p.name)
            and p.is_dir() and not p.is_symlink()
            and ((p / WRITING).is_file() or (p / MARKER).is_file() or _empty_own_temp(p))]


def _empty_own_temp(path: Path) -> bool:
    return bool(OWN_TEMP.match(path.name)) and not any(path.iterdir())


def remove_stale_partials(parent: Path) -> list[Path]:
    removed = stale_partials(parent)
    for path in removed:
        if _empty_own_temp(path):
            os.rmdir(path)  # refuses if something appeared in it meanwhile
        else:
            shutil.rmtree(path)
    return removed


def copy_complete(source: Path, target: Path, keep=lambda path: True) -> None:
    """Copy the files of ``source`` (verified first when it carries a marker) into a new atomic ``target``."""
    if is_complete(source):
        verify(source)
    with atomic_dir(target) as tmp:
        for path in files_of(source):
            if keep(path):
                destination = tmp / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
