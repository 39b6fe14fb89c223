"""JSON from users and files, with limits: a size cap and a clear error for deep nesting.

Python's parser recurses once per nesting level; ``[[[[...]]]]`` a few thousand deep ends in a
``RecursionError`` traceback, and a huge text eats memory. Both become a ``ValueError`` naming
the source and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_JSON_BYTES = 16 * 1024 * 1024


def loads(text: str | bytes, source: str) -> object:
    """Parse ``text`` (from ``source``: a file name or a field's name); ValueError on any problem."""
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(f"{source}: {len(text)} bytes of JSON, over the {MAX_JSON_BYTES // 2**20} MB limit")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{source}: JSON nested too deeply (thousands of levels); not a settings file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{source}: not valid JSON ({error})") from None


def load_file(path: str | Path) -> object:
    """Read and parse a JSON file, refusing one over the size cap before reading it."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: {size} bytes of JSON, over the {MAX_JSON_BYTES // 2**20} MB limit")
    return loads(path.read_bytes(), str(path))
