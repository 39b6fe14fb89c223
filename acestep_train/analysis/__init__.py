"""BPM, key and time signature measured from the audio (librosa, numpy, scipy; no model).

``analyze(path)`` decodes once and runs: ``signal`` (mono at 22.05 kHz, harmonic part, fine-hop
onset envelopes of the whole mix and of its percussive part), ``tempo`` (whole-song
autocorrelation, candidates scored with their multiples, sub-frame refinement), ``evidence``
(percussive kick/snare pulse, harmonic rhythm), ``octave`` (half / double and 3:4 / 4:3 decided
with that evidence and a confidence), ``key`` (tuned chroma of the harmonic part, three key
profiles and the chords voting, the tonic's evidence deciding between relative and fifth-related
keys) and ``meter`` (3 vs 4 from beat-level accents and the harmonic rhythm). Every value comes
with a confidence in 0-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acestep_train.analysis import evidence as evidence_module
from acestep_train.analysis import key as key_module
from acestep_train.analysis import meter as meter_module
from acestep_train.analysis import octave, tempo
from acestep_train.analysis.signal import CQT_HOP, HOP, RATE, Signals, load, signals

__all__ = ["Analysis", "analyze", "analyze_signal", "estimate_bpm", "estimate_key", "estimate_meter", "gather_evidence"]


@dataclass(frozen=True)
class Analysis:
    bpm: int | None
    key: str | None
    duration: float
    timesignature: str | None = None  # beats per bar, "3" or "4" (the sidecar's form)
    bpm_confidence: float = 0.0
    key_confidence: float = 0.0
    timesignature_confidence: float = 0.0
    bpm_exact: float | None = None  # before rounding
    tuning_cents: float = 0.0

    def to_dict(self) -> dict:
        return {"bpm": self.bpm, "bpm_confidence": round(self.bpm_confidence, 3), "key": self.key,
                "key_confidence": round(self.key_confidence, 3), "timesignature": self.timesignature,
                "timesignature_confidence": round(self.timesignature_confidence, 3), "duration": self.duration,
                "bpm_exact": None if self.bpm_exact is None else round(self.bpm_exact, 2),
                "tuning_cents": self.tuning_cents}


def estimate_bpm(onset: np.ndarray, frame_rate: float = RATE / HOP,
                 evidence: evidence_module.Evidence | None = None) -> octave.TempoChoice | None:
    """The tempo of an onset envelope; ``evidence`` (``gather_evidence``) adds 3:4 readings and the
    percussive and harmonic evidence to the octave decision."""
    if len(onset) < frame_rate * 2 or not np.any(onset > 0):
        return None
    period = tempo.periodicity(onset, frame_rate)
    found = tempo.candidates(period)
    return octave.choose(period, [bpm for bpm, _ in found], evidence) if found else None


def gather_evidence(sig: Signals) -> evidence_module.Evidence:
    """Percussive pulse and harmonic rhythm; the harmony read below C5 (bass and accompaniment: a
    melody's notes change within a chord)."""
    accompaniment = sig.harmonic_cqt[:evidence_module.HARMONY_BINS]
    return evidence_module.gather(sig.percussive, sig.frame_rate, key_module.chroma_frames(accompaniment),
                                  RATE / CQT_HOP)


def estimate_key(sig: Signals) -> key_module.KeyEstimate:
    return key_module.estimate(sig.harmonic_cqt, sig.tuning_cents)


def estimate_meter(sig: Signals, bpm: float | None,
                   evidence: evidence_module.Evidence | None = None) -> meter_module.MeterEstimate:
    chord_beats = evidence.beats_per_chord(bpm) if evidence is not None and bpm else None
    return meter_module.estimate(sig.y, sig.onset, sig.frame_rate, bpm, sig.harmonic_cqt, HOP, CQT_HOP, chord_beats)


def analyze_signal(y: np.ndarray, duration: float | None = None) -> Analysis:
    """Analysis of mono float32 audio at 22.05 kHz."""
    sig = signals(y, duration)
    evidence = gather_evidence(sig)
    choice = estimate_bpm(sig.onset, sig.frame_rate, evidence)
    found_key = estimate_key(sig)
    meter = estimate_meter(sig, choice.bpm if choice else None, evidence)
    return Analysis(
        bpm=int(round(choice.bpm)) if choice else None, key=found_key.key, duration=round(sig.duration, 2),
        timesignature=str(meter.beats_per_bar) if meter.beats_per_bar else None,
        bpm_confidence=choice.confidence if choice else 0.0, key_confidence=found_key.confidence,
        timesignature_confidence=meter.confidence, bpm_exact=choice.bpm if choice else None,
        tuning_cents=found_key.tuning_cents)


def analyze(path: str | Path, max_seconds: float | None = 120.0) -> Analysis:
    """BPM, key and meter from the first ``max_seconds``; duration of the whole file from its header."""
    y, duration = load(path, max_seconds)
    return analyze_signal(y, duration)
