"""Cut a long song into windows a model takes whole, at the quietest moment near each boundary.

A lyric line cut in half is transcribed twice or not at all; a cut in a pause loses nothing.
"""

from __future__ import annotations

import numpy as np


def quiet_point(samples: np.ndarray, rate: int, start: int, end: int, frame_seconds: float = 0.05) -> int:
    """The start of the quietest ``frame_seconds`` frame in ``samples[start:end]`` (the latest, on ties)."""
    frame = max(1, int(frame_seconds * rate))
    span = samples[start:end]
    count = len(span) // frame
    if count < 2:
        return end
    energy = (span[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    latest_quietest = count - 1 - int(np.argmin(energy[::-1]))
    return start + latest_quietest * frame


def split(samples: np.ndarray, rate: int, window_seconds: float, search_seconds: float = 10.0) -> list[np.ndarray]:
    """Consecutive pieces of at most ``window_seconds``, each cut at a quiet point in its last
    ``search_seconds``; the whole song when it fits in one window."""
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be > 0, got {window_seconds}")
    window = int(window_seconds * rate)
    search = min(int(search_seconds * rate), window // 2)
    pieces, start = [], 0
    while len(samples) - start > window:
        cut = quiet_point(samples, rate, start + window - search, start + window)
        cut = cut if cut > start else start + window
        pieces.append(samples[start:cut])
        start = cut
    pieces.append(samples[start:])
    return pieces
