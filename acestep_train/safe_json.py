"""JSON (and other small text files) from users, with limits: a size cap and a nesting limit.

Python's parser recurses once per nesting level; ``[[[[...]]]]`` a few thousand deep ends in a
``RecursionError`` traceback, and a value a few hundred deep still breaks whatever walks it
later (``str()``, ``json.dumps``, Gradio). A huge file eats memory. Each becomes a
``JsonLimitError`` (a ``ValueError``) naming the file or field and the reason; malformed JSON is
a plain ``ValueError``. A file's size is checked on the open handle before a byte is read, and
the read itself stops at the cap, so a file that grows meanwhile is refused too.

Every JSON the studio reads from a user's folders goes through ``load_file`` / ``loads``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 100  # objects/arrays inside each other; our files use fewer than 10


class JsonLimitError(ValueError):
    """Over the size cap or the nesting limit: not a file a person wrote by hand."""


def _too_big(source: str, size: int) -> JsonLimitError:
    return JsonLimitError(f"{source}: {size} bytes, over the {MAX_JSON_BYTES // 2**20} MB limit; not read")


def _too_deep(source: str) -> JsonLimitError:
    return JsonLimitError(f"{source}: JSON too deeply nested (over {MAX_JSON_DEPTH} levels); not read")


def read_bounded(path: str | Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """A file's bytes, refused (``JsonLimitError``) when it holds more than ``limit`` before reading it."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise _too_big(str(path), size)
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew after the stat
        raise _too_big(str(path), len(data))
    return data


def check_depth(value: object, source: str) -> None:
    """Refuse a parsed value whose containers nest deeper than ``MAX_JSON_DEPTH`` (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(source)
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def loads(text: str | bytes, source: str) -> object:
    """Parse ``text`` (from ``source``: a file name or a field's name); ValueError on any problem."""
    if len(text) > MAX_JSON_BYTES:
        raise _too_big(source, len(text))
    try:
        data = json.loads(text)
    except RecursionError:
        raise _too_deep(source) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{source}: not valid JSON ({error})") from None
    if isinstance(data, (dict, list)) and _openers(text) > MAX_JSON_DEPTH:  # fewer brackets: cannot be too deep
        check_depth(data, source)
    return data


def _openers(text: str | bytes) -> int:
    """How many ``[`` and ``{`` the text holds (in strings too): an upper bound of its nesting depth."""
    return text.count(b"[" if isinstance(text, bytes) else "[") + text.count(b"{" if isinstance(text, bytes) else "{")


def load_file(path: str | Path) -> object:
    """Read and parse a JSON file: size checked before reading, nesting after parsing."""
    return loads(read_bounded(path), str(path))
