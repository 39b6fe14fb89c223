"""Multi-instrument test music with known tempo, key and meter (numpy only, no samples, no binaries).

One ``Piece`` renders drums (kick, snare, hi-hat), a bass line on chord roots, sustained chords
with harmonic partials and a melody from the scale, with swing, humanised timing and velocity,
optional tempo drift, a key change (to the dominant for the last third), no drums, and a global
detune (a band tuned off A440). What real mixes add, each optional (``bench.synth_groove``,
``bench.synth_mix``): sixteenth hi-hats, half-time drums, a syncopated bass doubled by the kick,
a dense top (shaker, stabs, a lead with passing notes), a pad (sidechained to the kick), a
rubato intro, a final held tonic chord, reverb and a master limiter. The labels are what the
piece was written with: the tempo where the beat starts, the key of its first two thirds, the
beats of a bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench import synth_groove as groove
from bench import synth_mix as mix

NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# Chord roots in semitones above the tonic, with their quality, per mode.
PROGRESSIONS = {
    "major": (((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),  # I-V-vi-IV
              ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),  # I-IV-V-I
              ((0, "maj"), (9, "min"), (2, "min"), (7, "maj")),  # I-vi-ii-V
              ((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),  # I-bVII-IV-I (mixolydian: the scale of IV's key)
              ((0, "maj"), (2, "maj"), (5, "maj"), (0, "maj")),  # I-II-IV-I (V of V: the dominant's leading note)
              ((5, "maj"), (0, "maj"), (7, "maj"), (9, "min"))),  # IV-I-V-vi (starts off the tonic)
    "minor": (((0, "min"), (5, "min"), (7, "maj"), (0, "min")),  # i-iv-V-i (harmonic minor V)
              ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),  # i-VI-III-VII
              ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")),  # i-VII-VI-V
              ((0, "min"), (3, "maj"), (10, "maj"), (5, "min")),  # i-III-VII-iv (the relative major's I-V-ii)
              ((8, "maj"), (10, "maj"), (0, "min"), (0, "min")),  # VI-VII-i-i
              ((0, "min"), (5, "maj"), (0, "min"), (5, "maj"))),  # i-IV-i-IV (dorian: the scale of the dominant's key)
}
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
SAW = tuple(1.0 / k for k in range(1, 11))  # a distorted guitar's bright partials


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
    hats: int = 2  # hi-hat strokes per beat (4: the sixteenths over a slow song)
    half_time: bool = False  # kick on 1, the snare once a bar on 3
    bass: str = "beats"  # "beats": roots on the beat; "syncopated": a 3+3+2 figure, the kick doubling it
    dense: bool = False  # shaker sixteenths, off-beat stabs, a lead line with passing notes
    pad: bool = False  # a sustained chord pad ...
    sidechain: bool = False  # ... ducked by every kick
    intro: float = 0.0  # seconds of rubato (free-time chords) before the beat starts
    final_chord: bool = False  # ends on a held tonic chord
    reverb: float = 0.0  # RT60 of a room on the whole mix, seconds
    limiter: float = 0.0  # master limiter drive (0: none; 3: a loud master)
    powerchords: bool = False  # chords as root, fifth and octave with bright partials (no third: no mode)
    echo: float = 0.0  # a feedback delay on everything but the drums, in beats (0.75: a dotted eighth)

    @property
    def key(self) -> str:
        return f"{NOTES[self.tonic]} {self.mode}"


FINAL_SECONDS = 3.0


def body_end(piece: Piece) -> float:
    return piece.seconds - (FINAL_SECONDS if piece.final_chord else 0.0)


def _beat_times(piece: Piece) -> np.ndarray:
    """Onset time of every beat from the end of the intro, with drift (a linear tempo ramp)."""
    times, t = [], piece.intro
    while t < body_end(piece):
        times.append(t)
        tempo = piece.bpm * (1 + piece.drift * t / piece.seconds)
        t += 60.0 / tempo
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


def bar_tonic(piece: Piece, start: float) -> int:
    """The tonic at ``start`` (the dominant in the last third after a key change)."""
    return piece.tonic + (7 if piece.key_change and start > piece.seconds * 2 / 3 else 0)


def bar_chord(piece: Piece, bar_index: int) -> tuple[int, str]:
    chords = PROGRESSIONS[piece.mode][piece.progression % len(PROGRESSIONS[piece.mode])]
    return chords[bar_index % len(chords)]


def bar_root(piece: Piece, bar_index: int, start: float = 0.0) -> int:
    """MIDI note of the chord root of bar ``bar_index`` (octave 3)."""
    return 48 + bar_tonic(piece, start) % 12 + bar_chord(piece, bar_index)[0]


def _harmony(out, piece: Piece, beats: np.ndarray, rate: int, rng) -> None:
    scale = MAJOR_SCALE if piece.mode == "major" else MINOR_SCALE
    bars = range(0, len(beats), piece.beats_per_bar)
    for bar_index, first in enumerate(bars):
        tonic = bar_tonic(piece, beats[first])
        root = bar_root(piece, bar_index, beats[first])
        bar_end = beats[min(first + piece.beats_per_bar, len(beats) - 1)] if first + piece.beats_per_bar < len(
            beats) else body_end(piece)
        quality = bar_chord(piece, bar_index)[1]
        length = max(0.2, bar_end - beats[first])
        for interval in (0, 7, 12) if piece.powerchords else TRIADS[quality]:  # the chord, held for the bar
            _add(out, _tone(_freq(root + 12 + interval, piece.detune_cents), length, rate,
                            SAW if piece.powerchords else (1.0, 0.5, 0.33, 0.25), decay=0.8),
                 beats[first] + _jitter(rng, piece), rate, 0.12)
        for b in range(first, min(first + piece.beats_per_bar, len(beats))):  # bass on each beat, root and fifth
            if piece.bass == "beats":
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


def _drums(out, piece: Piece, beats: np.ndarray, rate: int, rng) -> list[float]:
    """The drum kit; returns the kick times (a syncopated bass brings its own kick)."""
    kick, snare, hat = (_drum(kind, rate, rng) for kind in ("kick", "snare", "hat"))
    kicks: list[float] = []
    if piece.half_time:
        kicks += groove.half_time(out, piece, groove.grid(beats, piece.bpm), len(beats), kick, snare,
                                  _adder(rate), lambda: _jitter(rng, piece))
    for b, t in enumerate(beats):
        position = b % piece.beats_per_bar
        straight = not piece.half_time
        if straight and piece.bass == "beats" and (
                position == 0 or (piece.beats_per_bar == 4 and position == 2 and rng.random() < 0.8)):
            kicks.append(t + _jitter(rng, piece))
            _add(out, kick, kicks[-1], rate, 0.8 if position == 0 else 0.55)
        if straight and ((piece.beats_per_bar == 4 and position in (1, 3)) or
                         (piece.beats_per_bar == 3 and position in (1, 2))):
            _add(out, snare, t + _jitter(rng, piece), rate, 0.5 if piece.beats_per_bar == 4 else 0.3)
        if piece.hats == 2:
            _add(out, hat, t + _jitter(rng, piece), rate, 0.5)
            _add(out, hat, t + _swung(piece, beats, b) + _jitter(rng, piece), rate, 0.3)
    if piece.hats != 2:
        groove.hats(out, piece, groove.grid(beats, piece.bpm), len(beats), hat, _adder(rate), rng,
                    lambda: _jitter(rng, piece))
    return kicks


def _chord_freqs(piece: Piece, bar_index: int, start: float, octave: int = 0) -> list[float]:
    root = bar_root(piece, bar_index, start) + 12 * octave
    return [_freq(root + 12 + interval, piece.detune_cents) for interval in TRIADS[bar_chord(piece, bar_index)[1]]]


def _produce(out, kit, piece: Piece, beats: np.ndarray, kicks: list[float], rate: int, rng) -> None:
    """The optional layers of a produced mix (bass figure, dense top, pad, intro, final chord); drums into ``kit``."""
    at, add, bpb = groove.grid(beats, piece.bpm), _adder(rate), piece.beats_per_bar
    jitter = lambda: _jitter(rng, piece)  # noqa: E731
    tone = lambda note, seconds, decay: _tone(_freq(note, piece.detune_cents), seconds, rate, decay=decay)  # noqa: E731
    if piece.bass == "syncopated":
        roots = lambda position: bar_root(piece, int(position // bpb), float(at(position))) - 12  # noqa: E731
        kicks += groove.syncopated_bass(out, kit, piece, at, len(beats), roots, _drum("kick", rate, rng) if piece.drums
                                        else None, add, tone, jitter)
    if piece.dense:
        scale = MAJOR_SCALE if piece.mode == "major" else MINOR_SCALE

        def stab(b):
            freqs = _chord_freqs(piece, b // bpb, float(at(b)), 1)
            return sum(_tone(f, 0.15, rate, decay=14) for f in freqs)

        def lead(b, hold, passing):  # chord tones mostly, like a sung line
            chord = bar_root(piece, b // bpb, float(at(b))) + np.array(TRIADS[bar_chord(piece, b // bpb)[1]])
            note = (int(rng.choice(chord)) + 24 if rng.random() < 0.7 else
                    72 + bar_tonic(piece, float(at(b))) % 12 + scale[int(rng.integers(0, 7))])
            return tone(note + (1 if passing else 0), hold * 60 / piece.bpm, 1.0)
        groove.dense_top(out, piece, at, len(beats), rate, stab, lead, add, rng, jitter)
    if piece.pad:
        bars = [(float(at(b)), float(at(b + bpb)), _chord_freqs(piece, b // bpb, float(at(b))))
                for b in range(0, len(beats), bpb)]
        layer = mix.pad(bars, rate, len(out))
        layer = mix.sidechain(layer, kicks or list(beats), rate) if piece.sidechain else layer
        out += 0.03 * layer
    if piece.intro:
        chords = [_chord_freqs(piece, index, 0.0) for index in range(4)]
        out[: int(piece.intro * rate)] += mix.rubato(chords, piece.intro, rate, rng)
    if piece.final_chord:
        end = body_end(piece)
        for note in [piece.tonic % 12 + 36] + [piece.tonic % 12 + 60 + i for i in TRIADS[_tonic_quality(piece)]]:
            add(out, tone(note, FINAL_SECONDS, 0.7), end, 0.15)


def _tonic_quality(piece: Piece) -> str:
    return "maj" if piece.mode == "major" else "min"


def _adder(rate: int):
    return lambda out, sound, start, gain: _add(out, sound, start, rate, gain)


def render(piece: Piece, rate: int = 22050) -> np.ndarray:
    """The piece as mono float32 at ``rate``, peak 0.9."""
    rng = np.random.default_rng(piece.seed)
    extra = np.random.default_rng([piece.seed, 7])  # the production's own stream: a plain piece renders as before
    beats = _beat_times(piece)
    out = np.zeros(int(piece.seconds * rate) + rate, np.float32)
    kit = np.zeros_like(out)
    _harmony(out, piece, beats, rate, rng)
    kicks = _drums(kit, piece, beats, rate, rng) if piece.drums else []
    _produce(out, kit, piece, beats, kicks, rate, extra)
    if piece.echo:
        out = mix.echo(out, piece.echo * 60 / piece.bpm, rate)
    out = (out + kit)[: int(piece.seconds * rate)]
    if piece.reverb:
        out = mix.reverb(out, piece.reverb, rate, extra)
    if piece.limiter:
        out = mix.limit(out, piece.limiter)
    return (0.9 * out / max(1e-9, float(np.abs(out).max()))).astype(np.float32)
