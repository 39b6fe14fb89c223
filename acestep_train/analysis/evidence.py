"""Whole-song evidence that tells a tempo from its half, double, 3:4 and 4:3 readings.

Both read the entire excerpt, never a window:

- the low and mid bands of the percussive onsets only (kick, snare, bass attacks; no hi-hats,
  no pad swells or sidechain pumping): their autocorrelation at one beat of a reading. The
  sixteenth hi-hats of a slow song pulse at its double tempo; its kick and snare do not.
- the harmonic rhythm: how far apart the chords change (the first strong peak of the
  autocorrelation of a chord-change curve from the harmonic chroma). A true reading puts a whole
  number of beats between changes, most often 3 or 4 (a bar), and a 3:4 reading does not (3.33 s
  is 4 beats at 72 BPM but 5.33 at 96); that number of beats is also the meter's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acestep_train.analysis.tempo import Periodicity, periodicity

NOVELTY_HALF = 8  # chroma frames compared either side of a moment (~0.37 s at CQT_HOP): chords, not notes
CHORD_SPAN = (0.8, 8.0)  # seconds between chord changes looked for
HARMONY_BINS = 48  # constant-Q bins from C1 read for the harmonic rhythm: up to B4
PEAK_SHARE = 0.5  # the first autocorrelation peak reaching this share of the highest is the period
STRONG = 0.4  # a chord-change autocorrelation this high is a fully clear harmonic rhythm


@dataclass(frozen=True)
class Evidence:
    low_mid: Periodicity  # autocorrelation of the percussive onsets' low and mid bands
    chord_period: float | None  # seconds between chord changes; None when the harmony never changes
    chord_clarity: float  # 0-1: how regularly the chords change (the autocorrelation there, over STRONG)

    def beats_per_chord(self, bpm: float) -> float | None:
        return self.chord_period * bpm / 60.0 if self.chord_period else None


def first_peak(period: Periodicity, low: float, high: float, share: float = PEAK_SHARE) -> float | None:
    """The shortest lag (seconds) in ``low``-``high`` whose autocorrelation peak reaches ``share`` of
    the highest there (a period's multiples peak as high as the period itself); None without a peak."""
    lo, hi = max(1, int(low * period.frame_rate)), min(int(high * period.frame_rate), len(period.ac) - 2)
    if hi <= lo + 2:
        return None
    ac = period.ac[lo - 1:hi + 1]
    peaks = np.flatnonzero((ac[1:-1] > ac[:-2]) & (ac[1:-1] >= ac[2:]) & (ac[1:-1] > 0)) + 1
    if len(peaks) == 0:
        return None
    strong = peaks[ac[peaks] >= share * ac[peaks].max()]
    return float((lo - 1 + strong[0]) / period.frame_rate)


def chord_change(chroma_frames: np.ndarray, half: int = NOVELTY_HALF) -> np.ndarray:
    """How much the harmony differs before and after each frame: 1 - cosine of the mean chroma of
    ``half`` frames either side (0 at the edges)."""
    chroma = chroma_frames / (np.linalg.norm(chroma_frames, axis=0, keepdims=True) + 1e-9)
    total = np.cumsum(np.pad(chroma, ((0, 0), (1, 0))), axis=1)
    n = chroma.shape[1]
    if n <= 2 * half:
        return np.zeros(n)
    idx = np.arange(half, n - half)
    before = total[:, idx] - total[:, idx - half]
    after = total[:, idx + half] - total[:, idx]
    cos = (before * after).sum(axis=0) / (np.linalg.norm(before, axis=0) * np.linalg.norm(after, axis=0) + 1e-9)
    return np.pad(1.0 - cos, (half, half))


def gather(percussive: np.ndarray, frame_rate: float, chroma_frames: np.ndarray, chroma_rate: float) -> Evidence:
    """The evidence of one song; ``percussive`` is [4, frames] (all bands, then low / mid / high)."""
    change = periodicity(chord_change(chroma_frames), chroma_rate)
    chord_period = first_peak(change, *CHORD_SPAN)
    clarity = 0.0 if chord_period is None else float(np.clip(change.pulse(60.0 / chord_period) / STRONG, 0.0, 1.0))
    return Evidence(periodicity(percussive[1] + percussive[2], frame_rate), chord_period, clarity)
