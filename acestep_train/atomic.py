"""Atomic file writes: write to a temp file in the same folder, then ``os.replace``.

A crash mid-write leaves the old file (or nothing), never half a file. A symlink at the target
is replaced, never followed; an existing file keeps its permissions and a new one gets the
user's umask (not the 0600 that ``mkstemp`` or safetensors' own writer would leave).
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``target``; on success it replaces ``target``.

    The caller writes the file at the yielded path by any means (a library's own
    ``save`` function, for instance). On an exception the temp file is removed and
    ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = None if target.is_symlink() or not target.is_file() else os.stat(target).st_mode & 0o7777
    tmp_path = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666))
    if mode is None:  # a new file: 0o666 less the umask, as the kernel just applied it
        mode = os.stat(tmp_path).st_mode & 0o7777
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)  # a writer that replaced the temp file (safetensors writes 0600) gets it back
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(target, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
