"""The signals the estimators share, computed once: mono audio, a fine-hop onset envelope, and the
harmonic part of a tuned constant-Q spectrogram.

The onset envelope uses a fine hop (128 samples at 22.05 kHz, 5.8 ms), so a beat period is
resolved to a fraction of a BPM before any interpolation. A second envelope keeps the percussive
part of the same mel spectrogram only (median filtering along time and along frequency): pad
swells, sidechain pumping of sustained notes and reverb tails leave it, drum hits and note
attacks stay; it also comes split into low (kick, bass attacks), mid (snare) and high (hi-hat)
bands for the beat-level accents. The band's tuning is estimated first
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
MEL_BANDS = 64
MEL_HPSS = (31, 9)  # on the fine-hop mel spectrogram: 180 ms along time, 9 bands along frequency
BAND_EDGES = (0, 6, 24, MEL_BANDS)  # mel bands: low < ~200 Hz, mid < ~1.4 kHz, high
CENTRE = 1024 // (2 * HOP)  # frames librosa's centred onset envelope is shifted by


@dataclass(frozen=True)
class Signals:
    y: np.ndarray  # mono float32 at RATE
    onset: np.ndarray  # onset strength at HOP
    percussive: np.ndarray  # [4, frames] onset strength of the percussive part at HOP: all, low, mid, high bands
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


def onset_envelopes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(spectral-flux onset strength at the fine hop, [4, frames] the same of the percussive part:
    all bands, then low / mid / high)."""
    import librosa
    from scipy.ndimage import median_filter

    mel = librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=1024, hop_length=HOP, fmax=8000, n_mels=MEL_BANDS)
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=RATE, hop_length=HOP,
                                         n_fft=1024).astype(np.float64)
    harmonic = median_filter(mel, size=(1, MEL_HPSS[0]), mode="nearest")
    percussive = median_filter(mel, size=(MEL_HPSS[1], 1), mode="nearest")
    mel_p = mel * percussive ** 2 / (percussive ** 2 + harmonic ** 2 + 1e-12)
    db = librosa.power_to_db(mel_p, ref=float(mel.max()) or 1.0)
    flux = np.maximum(0.0, np.diff(db, axis=1, prepend=db[:, :1]))
    flux = np.pad(flux, ((0, 0), (CENTRE, 0)))[:, : len(onset)]  # aligned as librosa centres ``onset``
    bands = [flux.mean(axis=0)] + [flux[lo:hi].mean(axis=0) for lo, hi in zip(BAND_EDGES[:-1], BAND_EDGES[1:])]
    return onset, np.stack(bands).astype(np.float64)


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
    onset, percussive = onset_envelopes(y)
    return Signals(y, onset, percussive, harmonic, cents, float(duration if duration is not None else len(y) / RATE))
