"""The evaluation set for ``python -m bench analysis``: pieces shaped like produced songs, where the
analysis goes wrong on real music.

Each of the 24 archetypes below is one kind of real mix: slow songs whose hi-hats or bass run in
eighths and sixteenths (68, 72, 84 BPM: half / double tempo), syncopated 3+3+2 bass lines (the
dotted pulse: 3:4 and 2:3 readings), waltzes, half-time drums, sidechained pads, rubato intros,
reverb, dotted echoes, a limited master, power chords without a third, and progressions that
dwell on the relative major or on the scale of the key a fifth away (mixolydian, dorian, V of V).
Keys cover all 24 (a seeded permutation); tempi get a small seeded offset; ``count`` above 24
repeats the archetypes with new keys and offsets.
"""

from __future__ import annotations

import numpy as np

from bench.synth import Piece

# (bpm, beats per bar, traits): the traits map to ``Piece`` fields below
ARCHETYPES = (
    (60.5, 4, "ballad"), (64, 3, "waltz pad reverb"), (68, 4, "halftime sixteenths syncopated dense reverb"),
    (70, 4, "sixteenths syncopated pad sidechain limiter"), (72, 4, "nodrums syncopated pad echo"),
    (76, 3, "reverb intro"), (80, 4, "nodrums pad reverb intro"),
    (84, 4, "sixteenths dense sidechain pad limiter power"), (88, 4, "syncopated echo"), (92, 3, "syncopated dense"),
    (96, 4, "drift dense power"), (100, 4, "syncopated keychange echo"), (105, 3, "swing"), (110, 4, "power limiter"),
    (116, 4, "nodrums pad reverb"), (123, 4, "nodrums syncopated limiter"), (128, 4, "pad sidechain dense limiter"),
    (134, 3, "reverb"), (140, 4, "halftime"), (148, 4, "power dense limiter"), (156, 4, "syncopated dense reverb"),
    (164, 3, "dense limiter"), (172, 4, "halftime power"), (178, 4, "keychange drift"),
)
HARD_PROGRESSIONS = {"major": (3, 4, 5, 0, 3, 1), "minor": (1, 3, 5, 1, 4, 0)}  # taken in turn per mode


def _piece(bpm: float, meter: int, traits: str, key: int, index: int, turn: int, seconds: float, seed: int,
           rng) -> Piece:
    has = set(traits.split())
    if "ballad" in has:
        has |= {"sixteenths", "pad", "reverb", "intro"}
    mode = "major" if key < 12 else "minor"
    choices = HARD_PROGRESSIONS[mode]
    return Piece(
        bpm=round(bpm + float(rng.uniform(-1, 1)), 1), tonic=key % 12, mode=mode, beats_per_bar=meter,
        seconds=seconds, drums="nodrums" not in has, swing=0.33 if "swing" in has else 0.0,
        humanize_ms=float(rng.uniform(3, 15)), drift=0.02 if "drift" in has else 0.0, key_change="keychange" in has,
        detune_cents=float(rng.choice([0.0, 0.0, 25.0, -30.0, 40.0])), progression=choices[turn % len(choices)],
        seed=seed * 1000 + index, hats=4 if "sixteenths" in has else 2, half_time="halftime" in has,
        bass="syncopated" if "syncopated" in has else "beats", dense="dense" in has, pad="pad" in has,
        sidechain="sidechain" in has, intro=min(6.0, seconds / 5) if "intro" in has else 0.0,
        final_chord=index % 2 == 0, powerchords="power" in has,
        echo=(0.75 if bpm < 100 else 1.5) if "echo" in has else 0.0, reverb=1.6 if "reverb" in has else 0.0,
        limiter=3.0 if "limiter" in has else 0.0)


def pieces(count: int = 24, seconds: float = 30.0, seed: int = 0) -> list[Piece]:
    rng = np.random.default_rng(seed)
    keys = [int(key) for key in rng.permutation(24)]
    modes = [key < 12 for key in keys]
    turns = [sum(modes[j % 24] == modes[index % 24] for j in range(index)) for index in range(count)]
    return [_piece(*ARCHETYPES[index % len(ARCHETYPES)], keys[index % 24], index, turns[index], seconds, seed, rng)
            for index in range(count)]


def name(piece: Piece, index: int) -> str:
    flags = [f for f, on in (("nodrums", not piece.drums), ("swing", piece.swing), ("drift", piece.drift),
                             ("keychange", piece.key_change), (f"detune{piece.detune_cents:+.0f}", piece.detune_cents),
                             ("16ths", piece.hats == 4), ("halftime", piece.half_time),
                             ("syncop", piece.bass == "syncopated"), ("dense", piece.dense),
                             ("sidechain", piece.sidechain), ("pad", piece.pad and not piece.sidechain),
                             ("intro", piece.intro), ("reverb", piece.reverb), ("limiter", piece.limiter),
                             ("echo", piece.echo), ("final", piece.final_chord), ("power", piece.powerchords))
             if on]
    return f"{index:02d}_{piece.bpm:g}bpm_{piece.key.replace(' ', '')}_{piece.beats_per_bar}-4" + "".join(
        "_" + f for f in flags)
