"""BPM, musical key and duration with librosa (no model needed).

BPM: librosa's onset-autocorrelation tempo at a fine hop (5.8 ms frames), so the estimate is
not quantized to whole frames; octave errors are folded into 70-180 BPM, the range most
songs are written in. Key: the mean chroma correlated with the Krumhansl-Kessler major and
minor profiles in all twelve rotations; the best match names the key ("E minor").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANALYSIS_RATE = 22050
HOP = 128
NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
BPM_RANGE = (70.0, 180.0)


@dataclass(frozen=True)
class Analysis:
    bpm: int | None
    key: str | None
    duration: float


def estimate_bpm(y: np.ndarray, sr: int) -> int | None:
    import librosa

    onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP)
    if not np.any(onset > 0):
        return None
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=HOP,
                                                      start_bpm=120.0, max_tempo=320.0))[0])
    while tempo > BPM_RANGE[1]:
        tempo /= 2
    while 0 < tempo < BPM_RANGE[0]:
        tempo *= 2
    return int(round(tempo)) if tempo > 0 else None


def estimate_key(y: np.ndarray, sr: int) -> str | None:
    import librosa

    chroma = librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1)
    if not np.any(chroma > 0):
        return None
    scores = []
    for tonic in range(12):
        for mode, profile in (("major", MAJOR), ("minor", MINOR)):
            scores.append((np.corrcoef(chroma, np.roll(profile, tonic))[0, 1], f"{NOTES[tonic]} {mode}"))
    return max(scores)[1]


def analyze(path: str | Path, max_seconds: float = 120.0) -> Analysis:
    """BPM and key from the first ``max_seconds``; duration of the whole file from its header."""
    import librosa

    from acestep_train.audio import decode, probe, to_stereo

    duration = probe(path).duration
    audio, rate = decode(path, max_seconds)
    mono = to_stereo(audio).mean(0).numpy()
    y = librosa.resample(mono, orig_sr=rate, target_sr=ANALYSIS_RATE) if rate != ANALYSIS_RATE else mono
    return Analysis(estimate_bpm(y, ANALYSIS_RATE), estimate_key(y, ANALYSIS_RATE), round(duration, 2))
