"""BPM, key, time signature and duration measured from the audio (no model): ``acestep_train.analysis``.

Each measured field comes with the analysis's confidence in 0-1 under ``CONFIDENCE``."""

from __future__ import annotations

from captioner.backend import CONFIDENCE, Audio, Backend


class LibrosaAnalysis(Backend):
    name, provides, essential = "librosa", ("bpm", "keyscale", "timesignature", "duration"), ("bpm", "keyscale")
    measures = True

    def caption(self, audio: Audio) -> dict:
        from acestep_train.dataset.analysis import analyze

        result = analyze(audio.path)  # its own decode: the same figures as `acestep_train analyze-audio`
        fields: dict = {"duration": result.duration}
        confidence = {}
        for field, value, sure in (("bpm", result.bpm, result.bpm_confidence),
                                   ("keyscale", result.key, result.key_confidence),
                                   ("timesignature", result.timesignature, result.timesignature_confidence)):
            if value:
                fields[field] = value
                confidence[field] = round(float(sure), 3)
        fields[CONFIDENCE] = confidence
        return fields
