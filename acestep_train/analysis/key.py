"""Key from the harmonic part of the mix: tuned chroma matched against three published key profiles.

Input: the harmonic part of a tuned constant-Q spectrogram (``signal.harmonic_cqt``: drums
separated out, bins at the band's own tuning). Its mean chroma, the bass counted again, is
correlated with the Krumhansl-Kessler
(1982), Temperley (Kostka-Payne, 2001) and Albrecht-Shanahan (2013) major and minor profiles in
all 12 rotations; each profile's 24 correlations are standardised and averaged (a vote), then
joined with the chord-role vote of ``chords`` (which triads sound, which open and close). Both
votes hesitate between keys that share a scale: a minor song and its relative major, a modal
song (mixolydian, dorian) and the key a fifth away. The tonic evidence of ``chords`` decides
those: how long each key's tonic triad sounds, whether the song opens and closes on it, and how
often the bass plays its tonic. The confidence is the winner's share of a softmax over the 24
keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acestep_train.analysis import chords

NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PROFILES = {  # (major, minor), tonic first
    "krumhansl-kessler": ((6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
                          (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)),
    "temperley": ((0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
                  (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330)),
    "albrecht-shanahan": ((0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
                          (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)),
}
KEYS = tuple(f"{NOTES[tonic]} {mode}" for mode in ("major", "minor") for tonic in range(12))
TEMPERATURE = 0.35
CHORD_WEIGHT = 2.0  # the chord-role vote (``chords``) against the profiles' (fitted on bench.analysis, 2 seeds)
# the tonic evidence, added to that mean (bench.analysis, harder set: 19 -> 22 of 24 exact on seed 0, the
# weight chosen there; seed 1, held out: 18 -> 23 of 24; any weight 0.5-1 gives the same)
TONIC_WEIGHT = 1.0
TONAL_FIT = 0.75  # a correlation with the key's profiles this high counts as fully tonal


@dataclass(frozen=True)
class KeyEstimate:
    key: str | None
    confidence: float
    tuning_cents: float
    runner_up: str | None = None


def correlations(chroma: np.ndarray) -> np.ndarray:
    """[profiles, 24] correlation of ``chroma`` with every profile's 24 keys (order: KEYS)."""
    return np.array([[np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
                      for profile in (major, minor) for tonic in range(12)] for major, minor in PROFILES.values()])


def profile_scores(chroma: np.ndarray) -> np.ndarray:
    """[24] mean z-scored correlations of ``chroma`` with every profile's 24 keys (order: KEYS)."""
    scores = correlations(chroma)
    return ((scores - scores.mean(axis=1, keepdims=True)) / (scores.std(axis=1, keepdims=True) + 1e-9)).mean(axis=0)


def chroma_frames(harmonic_cqt: np.ndarray) -> np.ndarray:
    """[12, frames] chroma of the harmonic constant-Q magnitude (bins start on C), the lowest three
    octaves counted again at half weight (the bass names the tonic more often than the upper voices)."""
    octaves = harmonic_cqt[: harmonic_cqt.shape[0] // 12 * 12].reshape(-1, 12, harmonic_cqt.shape[1])
    return octaves.sum(axis=0) + 0.5 * octaves[:3].sum(axis=0)


def bass_frames(harmonic_cqt: np.ndarray) -> np.ndarray:
    """[12, frames] chroma of the two lowest octaves (C1-B2: the bass register)."""
    return harmonic_cqt[:24].reshape(2, 12, harmonic_cqt.shape[1]).sum(axis=0)


def estimate(harmonic_cqt: np.ndarray, cents: float = 0.0) -> KeyEstimate:
    """The key of a harmonic constant-Q magnitude whose bins start on C (``signal.harmonic_cqt``)."""
    if harmonic_cqt.size == 0 or float(harmonic_cqt.max()) < 1e-6:
        return KeyEstimate(None, 0.0, cents)
    frames = chroma_frames(harmonic_cqt)
    chroma = frames.mean(axis=1)
    if not np.any(chroma > 0) or np.allclose(chroma, chroma[0]):
        return KeyEstimate(None, 0.0, cents)
    tonic = chords.tonic_evidence(frames, bass_frames(harmonic_cqt))
    votes = (profile_scores(chroma) + CHORD_WEIGHT * chords.key_scores(frames)) / (1 + CHORD_WEIGHT)
    scores = (votes + TONIC_WEIGHT * (tonic - tonic.mean()) / (tonic.std() + 1e-9)) / (1 + TONIC_WEIGHT)
    order = np.argsort(scores)[::-1]
    weights = np.exp((scores - scores.max()) / TEMPERATURE)
    # the winner's share among the keys, times how tonal the chroma is at all (its mean correlation with
    # the winner's profiles: a cluster with no key still has a best key, but it fits it badly)
    fit = float(np.clip(correlations(chroma)[:, order[0]].mean() / TONAL_FIT, 0.0, 1.0))
    return KeyEstimate(KEYS[order[0]], float(weights[order[0]] / weights.sum()) * fit, round(cents, 1), KEYS[order[1]])
