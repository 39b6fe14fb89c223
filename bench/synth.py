"""Multi-instrument test music with known tempo, key and meter (numpy only, no samples, no binaries).

One ``Piece`` renders drums (kick, snare, hi-hat), a bass line on chord roots, sustained chords
with harmonic partials and a melody from the scale, with swing, humanised timing and velocity,
optional tempo drift, a key change (to the dominant for the last third), no drums, and a global
detune (a band tuned off A440). The labels are what the piece was written with: the tempo at
its start, the key of its first two thirds, the beats of a bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# Chord roots as scale degrees (0-based) with their quality, per mode.
PROGRESSIONS = {
    "major": (((0, "maj"), (4, "maj"), (5, "min"), (3, "maj")),  # I-V-vi-IV
              ((0, "maj"), (3, "maj"), (4, "maj"), (0, "maj")),  # I-IV-V-I
              ((0, "maj"), (5, "min"), (1, "min"), (4, "maj"))),  # I-vi-ii-V
    "minor": (((0, "min"), (3, "min"), (4, "maj"), (0, "min")),  # i-iv-V-i (harmonic minor V)
              ((0, "min"), (5, "maj"), (2, "maj"), (6, "maj")),  # i-VI-III-VII
              ((0, "min"), (6, "maj"), (5, "maj"), (4, "maj"))),  # i-VII-VI-V
}
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


@dataclass(frozen=True)
class Piece:
    bpm: float
    tonic: int  # 0 = C
    mode: str  # "major" / "minor"
    beats_per_bar: int = 4
    seconds: float = 30.0
    drums: bool = True
    swing: float = 0.0  # 0 straight; 0.33 a triplet swing of the off-eighths
    humanize_ms: float = 10.0  # timing jitter (standard deviation)
    drift: float = 0.0  # tempo change over the piece, as a fraction (0.03 = 3 % faster by the end)
    key_change: bool = False  # to the dominant for the last third
    detune_cents: float = 0.0
    progression: int = 0
    seed: int = 0

    @property
    def key(self) -> str:
        return f"{NOTES[self.tonic]} {self.mode}"


def _beat_times(piece: Piece, rng) -> np.ndarray:
    """Onset time of every beat, with drift (a linear tempo ramp) and humanised jitter."""
    times, t, beat = [], 0.0, 0
    while t < piece.seconds:
        times.append(t)
        tempo = piece.bpm * (1 + piece.drift * t / piece.seconds)
        t += 60.0 / tempo
        beat += 1
    return np.asarray(times)


def _tone(freq: float, seconds: float, rate: int, partials=(1.0, 0.5, 0.33, 0.25), decay: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(a * np.sin(2 * np.pi * freq * (i + 1) * t) for i, a in enumerate(partials) if freq * (i + 1) < rate / 2)
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-decay * t)
    return (wave * envelope).astype(np.float32)


def _drum(kind: str, rate: int, rng) -> np.ndarray:
    t = np.arange(int(0.25 * rate)) / rate
    if kind == "kick":
        return (np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)).astype(np.float32)
    noise = rng.standard_normal(len(t)).astype(np.float32)
    if kind == "snare":
        return (0.6 * noise * np.exp(-t * 20) + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)).astype(np.float32)
    hat = np.diff(noise, prepend=0.0)  # a crude high-pass
    return (0.3 * hat * np.exp(-t * 60)).astype(np.float32)


def _add(out: np.ndarray, sound: np.ndarray, start: float, rate: int, gain: float) -> None:
    i = int(start * rate)
    if 0 <= i < len(out):
        n = min(len(sound), len(out) - i)
        out[i:i + n] += gain * sound[:n]


def _freq(midi: float, cents: float) -> float:
    return 440.0 * 2 ** ((midi - 69 + cents / 100) / 12)


def _jitter(rng, piece: Piece) -> float:
    return float(rng.normal(0, piece.humanize_ms / 1000))


def _harmony(out, piece: Piece, beats: np.ndarray, rate: int, rng) -> None:
    scale = MAJOR_SCALE if piece.mode == "major" else MINOR_SCALE
    chords = PROGRESSIONS[piece.mode][piece.progression % 3]
    bars = range(0, len(beats), piece.beats_per_bar)
    for bar_index, first in enumerate(bars):
        tonic = piece.tonic + (7 if piece.key_change and beats[first] > piece.seconds * 2 / 3 else 0)
        degree, quality = chords[bar_index % len(chords)]
        root = 48 + tonic % 12 + scale[degree]
        bar_end = beats[min(first + piece.beats_per_bar, len(beats) - 1)] if first + piece.beats_per_bar < len(
            beats) else piece.seconds
        length = max(0.2, bar_end - beats[first])
        for interval in TRIADS[quality]:  # the chord, held for the bar
            _add(out, _tone(_freq(root + 12 + interval, piece.detune_cents), length, rate, decay=0.8),
                 beats[first] + _jitter(rng, piece), rate, 0.12)
        for b in range(first, min(first + piece.beats_per_bar, len(beats))):  # bass on each beat, root and fifth
            note = root - 12 + (7 if (b - first) == piece.beats_per_bar - 1 else 0)
            gain = 0.35 if b == first else 0.22
            _add(out, _tone(_freq(note, piece.detune_cents), 0.4, rate, decay=5), beats[b] + _jitter(rng, piece),
                 rate, gain)
            if rng.random() < 0.7:  # melody: a scale note of the current key, sometimes two
                step = scale[int(rng.integers(0, 7))]
                _add(out, _tone(_freq(72 + tonic % 12 + step, piece.detune_cents), 0.3, rate, decay=6),
                     beats[b] + _swung(piece, beats, b) * rng.integers(0, 2) + _jitter(rng, piece), rate, 0.1)


def _swung(piece: Piece, beats: np.ndarray, b: int) -> float:
    """Where the off-eighth after beat ``b`` falls (half a beat, later with swing)."""
    period = beats[b + 1] - beats[b] if b + 1 < len(beats) else 60 / piece.bpm
    return period * (0.5 + piece.swing / 2)


def _drums(out, piece: Piece, beats: np.ndarray, rate: int, rng) -> None:
    kick, snare, hat = (_drum(kind, rate, rng) for kind in ("kick", "snare", "hat"))
    for b, t in enumerate(beats):
        position = b % piece.beats_per_bar
        if position == 0 or (piece.beats_per_bar == 4 and position == 2 and rng.random() < 0.8):
            _add(out, kick, t + _jitter(rng, piece), rate, 0.8 if position == 0 else 0.55)
        if (piece.beats_per_bar == 4 and position in (1, 3)) or (piece.beats_per_bar == 3 and position in (1, 2)):
            _add(out, snare, t + _jitter(rng, piece), rate, 0.5 if piece.beats_per_bar == 4 else 0.3)
        _add(out, hat, t + _jitter(rng, piece), rate, 0.5)
        _add(out, hat, t + _swung(piece, beats, b) + _jitter(rng, piece), rate, 0.3)


def render(piece: Piece, rate: int = 22050) -> np.ndarray:
    """The piece as mono float32 at ``rate``, peak 0.9."""
    rng = np.random.default_rng(piece.seed)
    beats = _beat_times(piece, rng)
    out = np.zeros(int(piece.seconds * rate) + rate, np.float32)
    _harmony(out, piece, beats, rate, rng)
    if piece.drums:
        _drums(out, piece, beats, rate, rng)
    out = out[: int(piece.seconds * rate)]
    return (0.9 * out / max(1e-9, float(np.abs(out).max()))).astype(np.float32)
