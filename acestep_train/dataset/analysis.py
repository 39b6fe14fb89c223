"""BPM, key, time signature and duration of a song: the ``acestep_train.analysis`` package.

Kept as the dataset's entry point so existing callers (``analyze-audio``, the captioner's
librosa backend, the auto-label tab) keep working.
"""

from __future__ import annotations

from acestep_train.analysis import (Analysis, analyze, analyze_signal, estimate_bpm, estimate_key,
                                    estimate_meter)
from acestep_train.analysis.signal import HOP, RATE as ANALYSIS_RATE

__all__ = ["ANALYSIS_RATE", "HOP", "Analysis", "analyze", "analyze_signal", "estimate_bpm", "estimate_key",
           "estimate_meter"]
