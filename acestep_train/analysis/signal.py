"""The signals the estimators share, computed once: mono audio, a fine-hop onset envelope, and the
harmonic part of a tuned constant-Q spectrogram.

The onset envelope uses a fine hop (128 samples at 22.05 kHz, 5.8 ms), so a beat period is
resolved to a fraction of a BPM before any interpolation. The band's tuning is estimated first
(a song 40 cents sharp otherwise smears each pitch class into its neighbour) and the constant-Q
transform is taken at that tuning; harmonic/percussive separation (median filtering along time
and along frequency) then keeps the sustained notes for chroma and leaves the drums out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 22050
HOP = 128  # onset envelope hop: 5.8 ms
CQT_HOP = 1024  # 46 ms: chroma and chord changes
CQT_BINS = 84  # 7 octaves from C1
HPSS_KERNEL = (17, 17)  # (harmonic: along time, percussive: along frequency)


@dataclass(frozen=True)
class Signals:
    y: np.ndarray  # mono float32 at RATE
    onset: np.ndarray  # onset strength at HOP
    harmonic_cqt: np.ndarray  # [CQT_BINS, frames] magnitude of the sustained part, tuned
    tuning_cents: float
    duration: float  # of the whole file (its header), seconds

    @property
    def frame_rate(self) -> float:
        return RATE / HOP


def load(path: str | Path, max_seconds: float | None = 120.0) -> tuple[np.ndarray, float]:
    """(mono float32 at RATE from the first ``max_seconds``, duration of the whole file)."""
    import librosa

    from acestep_train.audio import decode, probe, to_stereo

    duration = probe(path).duration
    audio, rate = decode(path, max_seconds)
    mono = to_stereo(audio).mean(0).numpy().astype(np.float32)
    y = librosa.resample(mono, orig_sr=rate, target_sr=RATE) if rate != RATE else mono
    return y, float(duration)


def onset_envelope(y: np.ndarray) -> np.ndarray:
    """Spectral-flux onset strength at the fine hop: log-compressed mel bands, mean over bands."""
    import librosa

    return librosa.onset.onset_strength(y=y, sr=RATE, hop_length=HOP, n_fft=1024, fmax=8000,
                                        n_mels=64).astype(np.float64)


def harmonic_cqt(y: np.ndarray) -> tuple[np.ndarray, float]:
    """(harmonic part of the tuned constant-Q magnitude, tuning in cents)."""
    import librosa

    silent = not np.any(np.abs(y) > 1e-4)
    tuning = 0.0 if silent else float(librosa.estimate_tuning(y=y, sr=RATE))  # fractions of a semitone
    cqt = np.abs(librosa.cqt(y, sr=RATE, hop_length=CQT_HOP, fmin=librosa.note_to_hz("C1"), n_bins=CQT_BINS,
                             bins_per_octave=12, tuning=tuning))
    harmonic, _ = librosa.decompose.hpss(cqt, kernel_size=HPSS_KERNEL, margin=1.0)
    return harmonic, round(tuning * 100, 1)


def signals(y: np.ndarray, duration: float | None = None) -> Signals:
    harmonic, cents = harmonic_cqt(y)
    return Signals(y, onset_envelope(y), harmonic, cents, float(duration if duration is not None else len(y) / RATE))
