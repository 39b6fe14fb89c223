"""The one small interface every captioning backend implements.

``caption(audio) -> fields``: a dict with any of ``caption``, ``genre``, ``bpm``, ``keyscale``,
``timesignature``, ``lyrics``, ``language``, ``is_instrumental``. Backends load their model on
first use and free it in ``unload`` (two-pass: caption everything, unload, transcribe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Audio:
    path: Path
    samples: np.ndarray  # float32 mono
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


class Backend:
    name = "backend"
    provides: tuple[str, ...] = ()
    #: A song counts as done for this backend when these fields are set (``--only-missing``).
    essential: tuple[str, ...] = ()

    def caption(self, audio: Audio) -> dict:
        raise NotImplementedError

    def unload(self) -> None:
        """Free the model (and its GPU memory); the next ``caption`` loads it again."""


def load_audio(path: Path, rate: int = 16000, max_seconds: float | None = None) -> Audio:
    """Mono float32 at ``rate`` (speech models want 16 kHz), decoded by the studio's audio module."""
    import torchaudio.functional as F

    from acestep_train.audio import decode

    wave, native = decode(path, max_seconds)
    mono = wave.mean(0, keepdim=True)
    if native != rate:
        mono = F.resample(mono, native, rate)
    return Audio(Path(path), mono[0].numpy().astype("float32"), rate)
