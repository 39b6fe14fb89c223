"""BPM, key and duration from the audio itself (no model): the dataset module's librosa analysis."""

from __future__ import annotations

from captioner.backend import Audio, Backend


class LibrosaAnalysis(Backend):
    name, provides, essential = "librosa", ("bpm", "keyscale", "timesignature", "duration"), ("bpm", "keyscale")
    measures = True

    def caption(self, audio: Audio) -> dict:
        from acestep_train.dataset.analysis import analyze

        result = analyze(audio.path)  # its own decode: the same figures as `acestep_train analyze-audio`
        fields = {"duration": result.duration}
        if result.bpm:
            fields["bpm"] = result.bpm
        if result.key:
            fields["keyscale"] = result.key
        return fields
