"""``python -m bench analysis [--count 24] [--seconds 30] [--seed 0]``: BPM / key / meter accuracy on
the synthetic evaluation set (``bench.analysis_set``), and seconds per song.

Scores: BPM within 2; BPM within 2 of the truth, its half or its double (octave-tolerant); exact
key; key allowing its relative major/minor and its dominant (the usual confusions); meter 3 vs 4.
Every miss is listed with what was measured. Writes bench/results/analysis.json and .md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import RESULTS, write_result

NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _parse_key(key: str | None) -> tuple[int, str] | None:
    if not key:
        return None
    tonic, mode = key.split()
    return NOTES.index(tonic), mode


def key_tolerant(found: str | None, truth: str) -> bool:
    """Exact, relative major/minor, or the dominant / subdominant in the same mode."""
    got, want = _parse_key(found), _parse_key(truth)
    if got is None:
        return False
    if got == want:
        return True
    (g, gm), (w, wm) = got, want
    if gm == wm:
        return (g - w) % 12 in (5, 7)
    # relative: A minor <-> C major (the minor tonic 3 semitones below the major one)
    return (w - g) % 12 == 3 if wm == "major" else (g - w) % 12 == 3


def bpm_ok(found: float | None, truth: float, octave: bool = False) -> bool:
    if not found:
        return False
    targets = (truth, truth / 2, truth * 2) if octave else (truth,)
    return any(abs(found - target) <= 2 for target in targets)


def evaluate(count: int = 24, seconds: float = 30.0, seed: int = 0, analyzer=None) -> dict:
    from acestep_train.analysis import analyze_signal
    from bench.analysis_set import name, pieces
    from bench.synth import render

    analyzer = analyzer or analyze_signal
    rows, elapsed = [], 0.0
    for index, piece in enumerate(pieces(count, seconds, seed)):
        y = render(piece)
        start = time.perf_counter()
        result = analyzer(y)
        elapsed += time.perf_counter() - start
        truth_bpm = piece.bpm
        rows.append({"song": name(piece, index), "bpm": truth_bpm, "key": piece.key, "meter": piece.beats_per_bar,
                     "found_bpm": result.bpm, "found_key": result.key, "found_meter": result.timesignature,
                     "bpm_ok": bpm_ok(result.bpm, truth_bpm), "bpm_octave_ok": bpm_ok(result.bpm, truth_bpm, True),
                     "key_ok": result.key == piece.key, "key_tolerant_ok": key_tolerant(result.key, piece.key),
                     "meter_ok": result.timesignature == str(piece.beats_per_bar),
                     "confidence": {"bpm": round(result.bpm_confidence, 2), "key": round(result.key_confidence, 2),
                                    "meter": round(result.timesignature_confidence, 2)}})
    return summarise(rows, elapsed, seconds)


def summarise(rows: list[dict], elapsed: float, seconds: float) -> dict:
    n = len(rows)
    counts = {metric: sum(row[f"{metric}_ok"] for row in rows)
              for metric in ("bpm", "bpm_octave", "key", "key_tolerant", "meter")}
    failures = [{k: row[k] for k in ("song", "bpm", "found_bpm", "key", "found_key", "meter", "found_meter",
                                     "confidence")} | {"missed": [m for m in counts if not row[f"{m}_ok"]]}
                for row in rows if not all(row[f"{m}_ok"] for m in counts)]
    return {"songs": n, "seconds_per_song_audio": seconds,
            **{f"{metric}_correct": f"{value}/{n}" for metric, value in counts.items()},
            "analysis_s_per_song": round(elapsed / max(n, 1), 3), "failures": failures}


def table(figures: dict) -> str:
    lines = ["| metric | correct |", "|---|---|"]
    lines += [f"| {key.removesuffix('_correct')} | {value} |" for key, value in figures.items() if key.endswith("_correct")]
    lines.append(f"| seconds per song (analysis) | {figures['analysis_s_per_song']} |")
    lines += ["", "Failures:"] + [f"- {f['song']}: missed {', '.join(f['missed'])} (measured {f['found_bpm']} BPM, "
                                  f"{f['found_key']}, {f['found_meter']}/4; confidence {f['confidence']})"
                                  for f in figures["failures"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None, results_dir: Path = RESULTS) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench analysis")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures = evaluate(args.count, args.seconds, args.seed)
    print(table(figures))
    write_result("analysis", figures, results_dir)
    (results_dir / "analysis.md").write_text(table(figures) + "\n")
    return figures
