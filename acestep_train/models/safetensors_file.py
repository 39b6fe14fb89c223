"""Read and check ``.safetensors`` files before trusting them.

A truncated download or a corrupt file makes ``safetensors`` fail deep inside a load
with a message that names neither the file nor the reason. We read the header
ourselves first (8-byte length + JSON), check every tensor's byte range against the
file size, and raise ``CorruptCheckpointError`` naming the file and what is wrong.
The header alone also gives parameter counts and dtypes without loading any weights.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the UI reads headers without importing torch
    import torch

from acestep_train import safe_json

MAX_HEADER_BYTES = 16 * 1024 * 1024  # real headers are kilobytes; safetensors itself caps at 100 MB


class CorruptCheckpointError(ValueError):
    """A weights file that cannot be trusted: truncated, corrupt, or of the wrong shape."""


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def read_header(path: str | Path) -> dict[str, TensorInfo]:
    """Return ``{key: TensorInfo}`` from the file's header, checking it fits the file."""
    path = Path(path)
    size = path.stat().st_size
    if size < 8:
        raise CorruptCheckpointError(f"{path}: file is {size} bytes, too short to be safetensors (truncated?)")
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        if header_len > MAX_HEADER_BYTES and header_len <= size - 8:
            raise CorruptCheckpointError(f"{path}: header is {header_len} bytes, over the "
                                         f"{MAX_HEADER_BYTES // 2**20} MB limit (not a weights file we can trust)")
        if header_len > min(MAX_HEADER_BYTES, size - 8):
            raise CorruptCheckpointError(
                f"{path}: header claims {header_len} bytes but the file has {size} (truncated or not safetensors)"
            )
        raw = handle.read(header_len)
    try:
        header = safe_json.loads(raw, f"{path}: header")
    except ValueError as error:  # not JSON, or nested too deeply
        raise CorruptCheckpointError(f"{error}; the file is corrupt") from None
    if not isinstance(header, dict):
        raise CorruptCheckpointError(f"{path}: header is not a JSON object; the file is corrupt")
    data_size = size - 8 - header_len
    tensors: dict[str, TensorInfo] = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            start, end = entry["data_offsets"]
            info = TensorInfo(dtype=str(entry["dtype"]), shape=tuple(int(d) for d in entry["shape"]))
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptCheckpointError(f"{path}: header entry {key!r} is malformed ({error})") from error
        if end > data_size or start > end:
            raise CorruptCheckpointError(
                f"{path}: tensor {key!r} ends at byte {end} of data but the file holds {data_size} "
                "(truncated download? delete it and download again)"
            )
        tensors[key] = info
    return tensors


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` block of a safetensors header (empty dict if none)."""
    path = Path(path)
    read_header(path)  # validates the file first
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
    return dict(header.get("__metadata__") or {})


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load every tensor of a checked safetensors file onto the CPU."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    read_header(path)
    try:
        return load_file(str(path), device="cpu")
    except SafetensorError as error:
        raise CorruptCheckpointError(f"{path}: cannot be read as safetensors ({error})") from error


def summarize(path: str | Path, skip: tuple[str, ...] = ()) -> tuple[int, set[str]]:
    """(parameter count, set of dtypes) from the header alone, leaving out ``skip`` keys."""
    tensors = {key: info for key, info in read_header(path).items() if key not in skip}
    return sum(t.numel for t in tensors.values()), {t.dtype for t in tensors.values()}
