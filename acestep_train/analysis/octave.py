"""The octave and 3:4 decision: a tempo, its half / double and its 3:4 / 4:3 / 2:3 / 3:2 readings
fit the same onsets; choose deliberately, with a confidence.

The readings weighed are the three best tempo candidates with their halves and doubles and,
given whole-song ``evidence``, their 3:4 relatives (within 50-230 BPM). Each reading's logit:

- its pulse strength, the onset autocorrelation at one of its beats (a double-time reading whose
  extra beats carry no onsets is weak);
- with evidence: the same for the kick / snare / bass bands of the percussive part only, and the
  harmonic rhythm: the beats between chord changes at this reading, whole numbers scored by how
  common they are (a bar of 3 or 4 most, 1 least), fractions penalised (a 3:4 reading), weighed
  by how clearly the chords change at all (``Evidence.chord_clarity``);
- a log-normal prior for near-ties: centre 120 BPM, 1.5 octaves wide with the evidence; without
  it (an onset envelope alone) the prior does more of the work: centre 140, one octave wide.

The confidence is the winning reading's share of the softmax (near 0.5: a true ambiguity).
Weights chosen on the harder set of ``bench.analysis`` (seed 0) and checked on seed 1: tempo
within 2 BPM 17 -> 20 of 24 and 17 -> 21 of 24 (``docs/performance.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acestep_train.analysis.evidence import Evidence
from acestep_train.analysis.tempo import Periodicity

PRIOR = {True: (120.0, 1.5), False: (140.0, 1.0)}  # with evidence / without: (centre BPM, width in octaves)
PULSE_WEIGHT = 2.0
LOW_WEIGHT = 0.25
CHORD_WEIGHT = 1.0
RANGE = (50.0, 230.0)
OCTAVES = (0.5, 1.0, 2.0)
THIRDS = (2 / 3, 3 / 4, 4 / 3, 3 / 2)
BEATS_PER_CHORD = {1: 0.2, 2: 0.3, 3: 1.0, 4: 1.0, 6: 0.6, 8: 0.7, 12: 0.3, 16: 0.3}  # how common, 0-1
OFF_GRID = 0.05  # a count of beats not in the table
TOLERANCE = 0.12  # beats: how far from a whole number a chord change may fall


@dataclass(frozen=True)
class TempoChoice:
    bpm: float
    confidence: float  # 0-1
    readings: tuple[tuple[float, float], ...]  # (bpm, probability) of every reading weighed


def readings(candidates: list[float], ratios: tuple[float, ...] = OCTAVES) -> np.ndarray:
    """The candidates times ``ratios``, in range, near-duplicates (< 1 BPM) merged."""
    found: list[float] = []
    for bpm in sorted(r for c in candidates for r in (c * k for k in ratios) if RANGE[0] <= r <= RANGE[1]):
        if not found or bpm - found[-1] >= 1.0:
            found.append(bpm)
    return np.array(found)


def chord_fit(beats: float | None) -> float:
    """Log-plausibility of ``beats`` between chord changes (0 when unknown)."""
    if beats is None:
        return 0.0
    whole = int(round(beats))
    return float(np.log(BEATS_PER_CHORD.get(whole, OFF_GRID)) - min(((beats - whole) / TOLERANCE) ** 2, 4.0))


def logits(period: Periodicity, options: np.ndarray, evidence: Evidence | None) -> np.ndarray:
    pulse = np.clip(period.pulse(options), 1e-2, None)
    centre, width = PRIOR[evidence is not None]
    out = PULSE_WEIGHT * np.log(pulse / pulse.max()) - 0.5 * (np.log2(options / centre) / width) ** 2
    if evidence is not None:
        out = out + LOW_WEIGHT * np.log(np.clip(evidence.low_mid.pulse(options), 1e-2, None))
        fits = np.array([chord_fit(evidence.beats_per_chord(bpm)) for bpm in options])
        out = out + CHORD_WEIGHT * evidence.chord_clarity * fits
    return out


def choose(period: Periodicity, candidates: list[float], evidence: Evidence | None = None) -> TempoChoice | None:
    """The reading to keep; without ``evidence`` only halves and doubles are weighed."""
    options = readings(candidates[:3], OCTAVES + (THIRDS if evidence is not None else ()))
    if len(options) == 0:
        return None
    scores = logits(period, options, evidence)
    probability = np.exp(scores - scores.max())
    probability /= probability.sum()
    winner = int(np.argmax(probability))
    return TempoChoice(float(options[winner]), float(probability[winner]),
                       tuple((round(float(r), 2), round(float(p), 3)) for r, p in zip(options, probability)))
