"""BPM, key, time signature and duration measured from the audio (no model): ``acestep_train.analysis``."""

from __future__ import annotations

from captioner.backend import Audio, Backend


class LibrosaAnalysis(Backend):
    name, provides, essential = "librosa", ("bpm", "keyscale", "timesignature", "duration"), ("bpm", "keyscale")
    measures = True

    def caption(self, audio: Audio) -> dict:
        from acestep_train.dataset.analysis import analyze

        result = analyze(audio.path)  # its own decode: the same figures as `acestep_train analyze-audio`
        fields = {"duration": result.duration}
        for field, value in (("bpm", result.bpm), ("keyscale", result.key), ("timesignature", result.timesignature)):
            if value:
                fields[field] = value
        return fields
