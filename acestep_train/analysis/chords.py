"""Key evidence from the chords: which triads sound, and which of them open and close the excerpt.

Each constant-Q frame (harmonic part, smoothed over ~0.4 s) is labelled with its best-matching
major or minor triad. A key scores the chords it explains by their role (tonic 1.0, subdominant
and dominant 0.8, the other diatonic triads less, chords outside the key -0.3); chords in the
first and last 8 % count four times (songs tend to open and close on the tonic). This separates
keys that share a scale but not a centre, where pitch-class profiles alone hesitate.
"""

from __future__ import annotations

import numpy as np

# interval above the tonic -> (triad quality: 0 major / 1 minor, weight)
MAJOR_ROLES = {0: (0, 1.0), 5: (0, 0.8), 7: (0, 0.8), 9: (1, 0.6), 2: (1, 0.5), 4: (1, 0.3)}
MINOR_ROLES = {0: (1, 1.0), 5: (1, 0.8), 7: (0, 0.8), 8: (0, 0.6), 3: (0, 0.6), 10: (0, 0.6)}
OUTSIDE = -0.3
EDGE_SHARE, EDGE_WEIGHT = 0.08, 3.0
SMOOTH_FRAMES = 9


def _zscore(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return (x - x.mean(axis=axis, keepdims=True)) / (x.std(axis=axis, keepdims=True) + 1e-12)


def _templates() -> np.ndarray:
    """[24, 12]: C..B major triads, then C..B minor triads."""
    out = np.zeros((24, 12))
    for root in range(12):
        out[root, [(root + i) % 12 for i in (0, 4, 7)]] = 1
        out[12 + root, [(root + i) % 12 for i in (0, 3, 7)]] = 1
    return _zscore(out)


def _roles() -> np.ndarray:
    """[24 keys, 24 chords] weight of each chord in each key (keys ordered as key.KEYS)."""
    weights = np.full((24, 24), OUTSIDE)
    for index in range(24):
        tonic, roles = index % 12, (MAJOR_ROLES if index < 12 else MINOR_ROLES)
        for interval, (quality, weight) in roles.items():
            weights[index, quality * 12 + (tonic + interval) % 12] = weight
    return weights


TEMPLATES, ROLES = _templates(), _roles()


def chord_labels(chroma_frames: np.ndarray) -> np.ndarray:
    """Best triad (0-23) of each frame of a [12, frames] chroma."""
    from scipy.ndimage import median_filter

    smooth = median_filter(chroma_frames, size=(1, SMOOTH_FRAMES))
    return np.argmax(TEMPLATES @ _zscore(smooth.T).T, axis=0)


def key_scores(chroma_frames: np.ndarray) -> np.ndarray:
    """[24] standardised chord-role scores of every key."""
    labels = chord_labels(chroma_frames)
    weights = np.ones(len(labels))
    edge = max(1, int(len(labels) * EDGE_SHARE))
    weights[:edge] += EDGE_WEIGHT
    weights[-edge:] += EDGE_WEIGHT
    counts = np.bincount(labels, weights=weights, minlength=24) / weights.sum()
    return _zscore(ROLES @ counts)


def tonic_evidence(chroma_frames: np.ndarray, bass_frames: np.ndarray) -> np.ndarray:
    """[24] how much each key's tonic is the centre: the share of time a chord on its tonic sounds
    (either quality; the opening and closing chords counted again, as in ``key_scores``) plus the
    share of the bass register on its tonic note. Keys that share a scale (a minor song and its
    relative major, a modal song and the key a fifth away) differ here: the song dwells, starts
    and ends on its tonic, and the bass names it. The same for both modes of a tonic (the mode is
    the profiles' and the chord roles' to tell)."""
    labels = chord_labels(chroma_frames)
    weights = np.ones(len(labels))
    edge = max(1, int(len(labels) * EDGE_SHARE))
    weights[:edge] += EDGE_WEIGHT
    weights[-edge:] += EDGE_WEIGHT
    roots = np.bincount(labels % 12, weights=weights, minlength=12) / weights.sum()
    bass = bass_frames / (bass_frames.sum(axis=0, keepdims=True) + 1e-9)
    return np.tile(roots + bass.mean(axis=1), 2)
