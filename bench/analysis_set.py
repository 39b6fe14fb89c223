"""The evaluation set for ``python -m bench analysis``: ``count`` pieces spread over tempi 60-180,
all 24 keys, 3/4 and 4/4, with swing, tempo drift, key changes, no drums and detuning mixed in."""

from __future__ import annotations

import numpy as np

from bench.synth import Piece


def pieces(count: int = 24, seconds: float = 30.0, seed: int = 0) -> list[Piece]:
    rng = np.random.default_rng(seed)
    tempi = np.linspace(60, 180, count) + rng.uniform(-2, 2, count)
    keys = rng.permutation(24)
    out = []
    for index in range(count):
        key = int(keys[index % 24])
        out.append(Piece(
            bpm=round(float(tempi[index]), 1), tonic=key % 12, mode="major" if key < 12 else "minor",
            beats_per_bar=3 if index % 4 == 1 else 4, seconds=seconds, drums=index % 5 != 3,
            swing=0.33 if index % 3 == 2 else 0.0, humanize_ms=float(rng.uniform(3, 15)),
            drift=0.02 if index % 7 == 4 else 0.0, key_change=index % 8 == 6,
            detune_cents=float(rng.choice([0.0, 0.0, 25.0, -30.0, 40.0])), progression=index % 3,
            seed=seed * 1000 + index))
    return out


def name(piece: Piece, index: int) -> str:
    flags = [f for f, on in (("nodrums", not piece.drums), ("swing", piece.swing), ("drift", piece.drift),
                             ("keychange", piece.key_change), (f"detune{piece.detune_cents:+.0f}", piece.detune_cents))
             if on]
    return f"{index:02d}_{piece.bpm:g}bpm_{piece.key.replace(' ', '')}_{piece.beats_per_bar}-4" + "".join(
        "_" + f for f in flags)
