"""The seam between preprocessing and the audio module: one function per song."""

from __future__ import annotations

from pathlib import Path

import torch

from acestep_train.audio import load_for_model


def decode_for_model(path: Path, max_seconds: float, mode: str) -> torch.Tensor:
    """[2, N] float32 at 48 kHz, at most ``max_seconds`` long, normalized by ``mode``."""
    return load_for_model(path, max_seconds, mode)
