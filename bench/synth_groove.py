"""The grooves of the harder pieces: busy hi-hats, half-time backbeats, syncopated bass with the
kick doubling it, and the dense top of a produced mix (shaker, off-beat stabs, a lead line).

Each adds to ``out`` at the positions of a beat grid (``at``: beat number -> seconds, between and
beyond the written beats by interpolation) and returns the kick times it played (for the
sidechain). These are what make a slow song's eighths or sixteenths pulse as strongly as its
beats (68 read as 136), and a 3+3+2 bass line pulse every dotted beat (72 read as 96, 123 as 82).
"""

from __future__ import annotations

import numpy as np

TRESILLO = {0.5: (8, (0, 3, 6)), 0.25: (16, (0, 3, 6, 8, 11, 14))}  # unit -> (units per 4 beats, hits)
HEMIOLA = {0.5: (6, (0, 3)), 0.25: (12, (0, 3, 6, 9))}  # the same in a bar of 3


def grid(beats: np.ndarray, bpm: float):
    """Beat number (float) -> seconds, linear between beats and at ``bpm`` beyond them."""
    period = 60.0 / bpm

    def at(position):
        position = np.asarray(position, dtype=np.float64)
        inside = np.interp(position, np.arange(len(beats)), beats)
        beyond = beats[-1] + (position - (len(beats) - 1)) * period
        return np.where(position > len(beats) - 1, beyond, inside)
    return at


def bass_positions(piece, n_beats: int) -> np.ndarray:
    """Where a syncopated bass (and the kick) falls, in beats: a 3+3+2 figure of eighths (of
    sixteenths below 100 BPM); in a bar of 3, dotted values across the bar (a hemiola)."""
    unit = 0.5 if piece.bpm >= 100 else 0.25
    per, hits = (TRESILLO if piece.beats_per_bar == 4 else HEMIOLA)[unit]
    span = per * unit  # beats the figure spans
    starts = np.arange(0, n_beats, span)
    return np.sort(np.concatenate([starts + h * unit for h in hits]))


def hats(out, piece, at, n_beats: int, hat: np.ndarray, add, rng, jitter) -> None:
    """Hi-hats ``piece.hats`` to the beat, accented on the beat (sixteenths: a slow song's busy top)."""
    velocity = {4: (0.45, 0.2, 0.32, 0.2), 3: (0.45, 0.25, 0.3), 2: (0.5, 0.3)}[piece.hats]
    for b in range(n_beats):
        for k, gain in enumerate(velocity):
            add(out, hat, float(at(b + k / piece.hats)) + jitter(), gain * float(rng.uniform(0.8, 1.1)))


def half_time(out, piece, at, n_beats: int, kick, snare, add, jitter) -> list[float]:
    """Kick on 1 (and the "and" of 2), the snare once a bar on 3: the groove of half the tempo."""
    kicks = []
    for bar in range(0, n_beats, piece.beats_per_bar):
        for position, gain in ((0, 0.8), (1.5, 0.5)):
            kicks.append(float(at(bar + position)) + jitter())
            add(out, kick, kicks[-1], gain)
        add(out, snare, float(at(bar + piece.beats_per_bar // 2)) + jitter(), 0.6)
    return kicks


def syncopated_bass(out, kit, piece, at, n_beats: int, roots, kick, add, tone, jitter) -> list[float]:
    """The bass line on ``bass_positions`` (root, the fifth now and then) into ``out``, the kick
    doubling it into ``kit``."""
    kicks = []
    positions = bass_positions(piece, n_beats)
    for i, position in enumerate(positions):
        t = float(at(position)) + jitter()
        root = roots(position)
        note = root + (7 if i % 4 == 3 else 0)
        add(out, tone(note, 0.3, 6.0), t, 0.3)
        if kick is not None and i % 3 != 2:
            kicks.append(t)
            add(kit, kick, t, 0.6)
    return kicks


def dense_top(out, piece, at, n_beats: int, rate: int, stab, lead, add, rng, jitter) -> None:
    """Shaker sixteenths, chord stabs on the off-beats, a lead line held over beats with passing notes."""
    n = int(0.05 * rate)
    for step in range(n_beats * 4):
        shake = np.diff(rng.standard_normal(n), prepend=0.0) * np.exp(-np.arange(n) / (0.01 * rate))
        add(out, shake.astype(np.float32), float(at(step / 4)) + jitter(), 0.06 * float(rng.uniform(0.5, 1.2)))
    for b in range(n_beats):
        if rng.random() < 0.6:
            add(out, stab(b), float(at(b + 0.5)) + jitter(), 0.05)
    b = 0
    while b < n_beats:
        hold = int(rng.choice([1, 1, 2, 3]))
        add(out, lead(b, hold, rng.random() < 0.12), float(at(b)) + jitter(), 0.09)
        b += hold
