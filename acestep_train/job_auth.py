"""Job records the studio can trust: each ``job.json`` carries an HMAC-SHA256 of its fields.

The key is a per-install secret, ``<state folder>/secret`` (32 random bytes, 0600, made once and
atomically: written to a private temp file, then hard-linked into place, so two apps starting
together end up with the same one). A record without a signature, or whose signature does not
match its fields (planted, edited, or written by another install), is not the studio's: the
store lists it as ``broken`` and never starts or signals it. Every legitimate write re-signs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path

from acestep_train.paths import NOFOLLOW

SECRET_FILE = "secret"
SECRET_BYTES = 32
SIGNATURE = "signature"


def install_secret(folder: Path) -> bytes:
    """The install's secret in ``folder`` (the state folder), made the first time it is asked for."""
    file = folder / SECRET_FILE
    if not os.path.lexists(file):
        _create(file)
    return _read(file)


def _create(file: Path) -> None:
    handle, temp = tempfile.mkstemp(dir=file.parent, prefix=".secret-")  # 0600
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(secrets.token_bytes(SECRET_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, file)  # atomic, and never replaces a secret another process made first
        except FileExistsError:
            pass
    finally:
        os.unlink(temp)


def _read(file: Path) -> bytes:
    """The secret, refusing a symlink, another user's file, or one others may read (ValueError)."""
    try:
        handle = os.open(file, os.O_RDONLY | NOFOLLOW | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise ValueError(f"{file}: the studio's secret cannot be read ({error})") from None
    with os.fdopen(handle, "rb") as source:
        info = os.fstat(source.fileno())
        data = source.read(SECRET_BYTES + 1)
    if not stat.S_ISREG(info.st_mode) or len(data) != SECRET_BYTES:
        raise ValueError(f"{file}: not a studio secret ({SECRET_BYTES} bytes in a plain file)")
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
        raise ValueError(f"{file}: the studio's secret must be yours and readable by you alone (chmod 600); "
                         f"it is mode {info.st_mode & 0o777:o}, owner uid {info.st_uid}")
    return data


def canonical(record: dict) -> bytes:
    """The bytes a signature covers: the fields as sorted, compact, ASCII JSON."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def signature(record: dict, key: bytes) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


def signed(record: dict, key: bytes) -> dict:
    """``record`` with its signature, ready to write."""
    return {**record, SIGNATURE: signature(record, key)}


def verified(data: object, key: bytes) -> dict:
    """The fields of a record read back, once its signature is checked; ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("job.json is not a JSON object")
    mark = data.get(SIGNATURE)
    if not isinstance(mark, str):
        raise ValueError("unsigned: not a record this studio wrote")
    fields = {name: value for name, value in data.items() if name != SIGNATURE}
    try:
        expected = signature(fields, key)
    except ValueError as error:  # NaN or Infinity: nothing the studio writes
        raise ValueError(f"not a record this studio wrote ({error})") from None
    if not hmac.compare_digest(mark, expected):
        raise ValueError("signature does not match: the record was edited, planted, or written by another install")
    return fields
