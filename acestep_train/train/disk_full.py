"""A save that runs out of disk space says so, naming what it saved and where.

torch reports a full disk as ``RuntimeError: [enforce fail at inline_container.cc:672]`` with the
``OSError(ENOSPC)`` only in the exception's context, and safetensors as a ``SafetensorError`` whose
text says "No space left on device"; a user needs to hear neither, but that the disk is full and
that the older checkpoints are untouched (every save is an atomic folder: the failed one is removed).
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from acestep_train.train.errors import TrainingError

CODES = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
TEXTS = ("No space left on device", "Disk quota exceeded", f"os error {errno.ENOSPC}")


def is_disk_full(error: BaseException | None) -> bool:
    """True when ``error`` or an exception it was raised from / during is a full disk."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in CODES:
            return True
        if any(text in str(error) for text in TEXTS):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def saving(what: str, path: Path) -> Iterator[None]:
    """Turn a full disk during the block into a ``TrainingError`` naming ``what`` and ``path``."""
    try:
        yield
    except Exception as error:  # torch and safetensors raise their own types; only a full disk is translated
        if not is_disk_full(error):
            raise
        raise TrainingError(f"Out of disk space while saving {what} to {path}; older checkpoints are intact "
                            "(free some space, then resume with --resume-from latest)") from error
