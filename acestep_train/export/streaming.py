"""Write a safetensors file one tensor at a time.

``safetensors.torch.save_file`` needs every tensor in memory at once: 4.4 GB for the
full DiT + condition encoder in bf16, plus the merge's working copies. The format is a
little-endian u64 header length, a JSON header (dtype, shape, byte offsets per tensor,
padded with spaces to 8 bytes), then the raw bytes in header order; so with shapes and
dtypes known up front, we write the header first and stream each tensor after it. Peak
memory is one tensor. Files are read back by ``safetensors`` in the tests.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import torch

from acestep_train.atomic import atomic_path

DTYPES = {
    torch.float32: ("F32", 4), torch.float16: ("F16", 2), torch.bfloat16: ("BF16", 2),
    torch.float64: ("F64", 8), torch.int64: ("I64", 8), torch.int32: ("I32", 4), torch.int8: ("I8", 1),
    torch.uint8: ("U8", 1), torch.bool: ("BOOL", 1),
}


def stream_safetensors(path: Path, layout: list[tuple[str, torch.dtype, tuple[int, ...]]],
                       produce: Callable[[str], torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write ``layout`` = [(name, dtype, shape)] by calling ``produce(name)`` for each tensor in turn."""
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, dtype, shape in layout:
        size = math.prod(shape) * DTYPES[dtype][1]
        header[name] = {"dtype": DTYPES[dtype][0], "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        for name, dtype, shape in layout:
            tensor = produce(name)
            if tensor.dtype != dtype or tuple(tensor.shape) != tuple(shape):
                raise ValueError(f"{name}: produced {tensor.dtype} {tuple(tensor.shape)}, declared {dtype} {shape}")
            handle.write(tensor.contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
