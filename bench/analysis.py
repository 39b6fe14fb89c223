"""``python -m bench analysis [--count 24] [--seconds 30] [--seed 0]``: BPM / key / meter accuracy on
the synthetic evaluation set (``bench.analysis_set``), and seconds per song.

Scores: BPM within 2; BPM within 2 of the truth, its half or its double (octave-tolerant); exact
key; key allowing its relative major/minor and its dominant (the usual confusions); meter. Every
miss is classed (tempo: octave = half / double, 3:4 = a 4:3, 3:4, 3:2 or 2:3 reading, other; key:
relative, dominant = a fifth away in the same mode, parallel, other) and listed with what was
measured. Seconds per song are wall time and this process's CPU
time (the latter holds on a shared machine). Writes bench/results/analysis.json and .md.
"""

from __future__ import annotations

import argparse
import os
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


TEMPO_RATIOS = {"octave": (2.0, 0.5), "3:4": (4 / 3, 3 / 4, 3 / 2, 2 / 3)}


def tempo_error(found: float | None, truth: float) -> str | None:
    """None when within 2 BPM; else the class of the miss ("octave", "3:4", "none", "other")."""
    if not found:
        return "none"
    if bpm_ok(found, truth):
        return None
    for kind, ratios in TEMPO_RATIOS.items():
        if any(abs(found - truth * ratio) <= max(2.0, 0.03 * truth * ratio) for ratio in ratios):
            return kind
    return "other"


def key_error(found: str | None, truth: str) -> str | None:
    """None when exact; else "relative", "dominant" (a fifth either way, same mode), "parallel", "none", "other"."""
    got, want = _parse_key(found), _parse_key(truth)
    if got is None:
        return "none"
    if got == want:
        return None
    (g, gm), (w, wm) = got, want
    if gm == wm:
        return "dominant" if (g - w) % 12 in (5, 7) else "other"
    if g == w:
        return "parallel"
    return "relative" if key_tolerant(found, truth) else "other"


def error_classes(rows: list[dict]) -> dict:
    """{"tempo": {class: count}, "key": {class: count}} over the misses."""
    out: dict = {"tempo": {}, "key": {}}
    for row in rows:
        for field in ("tempo", "key"):
            kind = row[f"{field}_error"]
            if kind:
                out[field][kind] = out[field].get(kind, 0) + 1
    return out


def evaluate(count: int = 24, seconds: float = 30.0, seed: int = 0, analyzer=None) -> dict:
    from acestep_train.analysis import analyze_signal
    from bench.analysis_set import name, pieces
    from bench.synth import render

    analyzer = analyzer or analyze_signal
    rows, elapsed, cpu = [], 0.0, 0.0
    for index, piece in enumerate(pieces(count, seconds, seed)):
        y = render(piece)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = analyzer(y)
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        truth_bpm = piece.bpm
        rows.append({"song": name(piece, index), "bpm": truth_bpm, "key": piece.key, "meter": piece.beats_per_bar,
                     "found_bpm": result.bpm, "found_key": result.key, "found_meter": result.timesignature,
                     "bpm_ok": bpm_ok(result.bpm, truth_bpm), "bpm_octave_ok": bpm_ok(result.bpm, truth_bpm, True),
                     "key_ok": result.key == piece.key, "key_tolerant_ok": key_tolerant(result.key, piece.key),
                     "meter_ok": result.timesignature == str(piece.beats_per_bar),
                     "tempo_error": tempo_error(result.bpm, truth_bpm), "key_error": key_error(result.key, piece.key),
                     "confidence": {"bpm": round(result.bpm_confidence, 2), "key": round(result.key_confidence, 2),
                                    "meter": round(result.timesignature_confidence, 2)}})
    return summarise(rows, elapsed, seconds) | {"analysis_cpu_s_per_song": round(cpu / max(len(rows), 1), 3),
                                                "load_average": round(os.getloadavg()[0], 1)}


def summarise(rows: list[dict], elapsed: float, seconds: float) -> dict:
    n = len(rows)
    counts = {metric: sum(row[f"{metric}_ok"] for row in rows)
              for metric in ("bpm", "bpm_octave", "key", "key_tolerant", "meter")}
    shown = ("song", "bpm", "found_bpm", "key", "found_key", "meter", "found_meter", "confidence", "tempo_error",
             "key_error")
    failures = [{k: row[k] for k in shown} | {"missed": [m for m in counts if not row[f"{m}_ok"]]}
                for row in rows if not all(row[f"{m}_ok"] for m in counts)]
    return {"songs": n, "seconds_per_song_audio": seconds,
            **{f"{metric}_correct": f"{value}/{n}" for metric, value in counts.items()},
            "error_classes": error_classes(rows),
            "analysis_s_per_song": round(elapsed / max(n, 1), 3), "failures": failures}


def table(figures: dict) -> str:
    lines = ["| metric | correct |", "|---|---|"]
    lines += [f"| {key.removesuffix('_correct')} | {value} |"
              for key, value in figures.items() if key.endswith("_correct")]
    lines.append(f"| seconds per song (analysis, wall) | {figures['analysis_s_per_song']} |")
    if "analysis_cpu_s_per_song" in figures:
        lines.append(f"| CPU seconds per song | {figures['analysis_cpu_s_per_song']} (load average "
                     f"{figures['load_average']} while measured) |")
    classes = figures["error_classes"]
    lines += ["", "Errors by class: tempo " + (", ".join(f"{k} {v}" for k, v in classes["tempo"].items()) or "none")
              + "; key " + (", ".join(f"{k} {v}" for k, v in classes["key"].items()) or "none")]
    lines += ["", "Failures:"] + [f"- {f['song']}: missed {', '.join(f['missed'])} (measured {f['found_bpm']} BPM"
                                  f"{_cls(f['tempo_error'])}, {f['found_key']}{_cls(f['key_error'])}, "
                                  f"{f['found_meter']}/4; confidence {f['confidence']})"
                                  for f in figures["failures"]]
    return "\n".join(lines)


def _cls(kind: str | None) -> str:
    return f" [{kind}]" if kind else ""


def main(argv: list[str] | None = None, results_dir: Path = RESULTS) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench analysis")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="analysis", help="results file stem (e.g. analysis_before)")
    args = parser.parse_args(argv)
    figures = evaluate(args.count, args.seconds, args.seed)
    print(table(figures))
    write_result(args.name, figures, results_dir)
    (results_dir / f"{args.name}.md").write_text(table(figures) + "\n")
    return figures
