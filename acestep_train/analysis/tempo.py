"""Tempo from whole-song evidence: the onset envelope's autocorrelation over the entire excerpt.

Each candidate tempo on a 0.05 BPM grid is scored by the autocorrelation at its beat period and
at that period's multiples (the true beat recurs every 1, 2, 3, 4 beats; a spurious peak does
not). The autocorrelation is read between frames by linear interpolation and the winning grid
point is refined by a parabola through its neighbours, so the answer is not quantised to whole
onset frames (at hop 512 and 22.05 kHz, the nearest values to 132 BPM would be 129.2 and 136).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = np.arange(40.0, 240.0, 0.05)
MULTIPLES = (1, 2, 3, 4)
WEIGHTS = np.array([1.0, 0.7, 0.5, 0.4])
SMOOTH_S = 0.01  # seconds: the onset envelope's smoothing before autocorrelation


@dataclass(frozen=True)
class Periodicity:
    """The onset envelope's autocorrelation and what reads it at any tempo."""
    ac: np.ndarray  # normalised: ac[0] == 1
    frame_rate: float

    def at_lag(self, lags: np.ndarray) -> np.ndarray:
        lags = np.asarray(lags, dtype=np.float64)
        return np.interp(lags, np.arange(len(self.ac)), self.ac, right=0.0)

    def pulse(self, bpm) -> np.ndarray:
        """The autocorrelation's peak within a frame of one beat period of ``bpm``: how strongly that
        pulse recurs (a sharp peak read between frames would lose height)."""
        lag = 60.0 * self.frame_rate / np.asarray(bpm, dtype=np.float64)
        return np.max([self.at_lag(lag + shift) for shift in (-1.0, -0.5, 0.0, 0.5, 1.0)], axis=0)

    def score(self, bpm) -> np.ndarray:
        """Weighted autocorrelation at 1-4 beat periods."""
        lag = 60.0 * self.frame_rate / np.asarray(bpm, dtype=np.float64)
        return sum(w * self.at_lag(lag * k) for w, k in zip(WEIGHTS, MULTIPLES)) / WEIGHTS.sum()


def periodicity(onset: np.ndarray, frame_rate: float) -> Periodicity:
    """Unbiased autocorrelation of the onset envelope (local mean removed, half-wave rectified, and
    smoothed over ~10 ms: an onset falling between two frames would split its peak in two)."""
    from scipy.ndimage import gaussian_filter1d, uniform_filter1d

    x = onset - uniform_filter1d(onset, size=max(3, int(frame_rate)))  # one-second local mean out
    x = gaussian_filter1d(np.maximum(x, 0.0), SMOOTH_S * frame_rate)
    x -= x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    ac /= np.maximum(n - np.arange(n), n // 4)  # unbiased, without blowing up the far lags
    ac = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)
    return Periodicity(ac, frame_rate)


def refine(grid: np.ndarray, scores: np.ndarray, index: int) -> float:
    """The peak of a parabola through the grid point and its two neighbours."""
    if 0 < index < len(grid) - 1:
        left, mid, right = scores[index - 1:index + 2]
        denom = left - 2 * mid + right
        if denom < 0:
            return float(grid[index] + 0.5 * (left - right) / denom * (grid[1] - grid[0]))
    return float(grid[index])


def candidates(period: Periodicity, top: int = 6) -> list[tuple[float, float]]:
    """The strongest local maxima of the tempo score: [(bpm, score)], best first."""
    scores = period.score(GRID)
    peaks = np.flatnonzero((scores[1:-1] > scores[:-2]) & (scores[1:-1] >= scores[2:])) + 1
    peaks = peaks[np.argsort(scores[peaks])[::-1]][:top]
    return [(refine(GRID, scores, i), float(scores[i])) for i in peaks]
