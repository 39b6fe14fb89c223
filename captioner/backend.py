"""The one small interface every captioning backend implements.

``caption(audio) -> fields``: a dict with any of ``caption``, ``genre``, ``bpm``, ``keyscale``,
``timesignature``, ``lyrics``, ``language``, ``is_instrumental``, ``duration``, and three extras
the batch handles itself: ``LINES`` (timed lyric lines, written as ``{stem}.lrc`` on request),
``NOTES`` (warnings worth showing, e.g. "the decode was cut") and ``CONFIDENCE`` (a measuring
backend's confidence in 0-1 per field it gives, e.g. ``{"bpm": 0.8, "keyscale": 0.4}``). Backends load their model on
first use and free it in ``unload`` (two-pass: caption everything, unload, transcribe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000  # what every speech/audio-language model here takes
METADATA = ("bpm", "keyscale", "timesignature")  # measurable from the audio itself
LINES = "_lines"
NOTES = "_notes"
CONFIDENCE = "_confidence"
WINNERS = "_winners"  # the batch's own: which backend gave each field


@dataclass(frozen=True)
class Audio:
    path: Path
    samples: np.ndarray  # float32 mono at ``sample_rate``
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


class Backend:
    name = "backend"
    #: The sidecar fields this backend can fill.
    provides: tuple[str, ...] = ()
    #: A song counts as done for this backend when these fields are set (``only_missing``).
    essential: tuple[str, ...] = ()
    #: Holds a model on the GPU (two-pass groups, job queueing).
    local_model = False
    #: Measures METADATA from the signal (stronger than a model's words for them).
    measures = False

    def caption(self, audio: Audio) -> dict:
        raise NotImplementedError

    @property
    def loaded(self) -> bool:
        """True when ``caption`` can run without loading a model first."""
        return True

    def load(self) -> None:
        """Load the model now (a batch does this before its first song, so a broken model fails once)."""

    def unload(self) -> None:
        """Free the model (and its GPU memory); the next ``caption`` loads it again."""

    @property
    def gives_lyrics(self) -> bool:
        return "lyrics" in self.essential


def load_audio(path: str | Path, rate: int = RATE, max_seconds: float | None = None) -> Audio:
    """Mono float32 at ``rate``, decoded by the studio's audio module (any format it reads)."""
    from acestep_train.audio import decode, resample

    wave, native = decode(path, max_seconds)
    mono = resample(wave.mean(0, keepdim=True), native, rate)
    return Audio(Path(path), mono[0].numpy().astype("float32"), rate)
