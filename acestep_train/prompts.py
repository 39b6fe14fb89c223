"""The text the model is conditioned on, built exactly as ``AceStepPipeline`` builds it.

We do not re-type the pipeline's templates: ``SongText`` carries the fields, and
``format_texts`` hands them to the pipeline's own formatter, so training text and
inference text cannot drift apart. The test suite also checks the pipeline's
conditioning tensors against preprocessing's, end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class SongText:
    """What a song is conditioned on. Empty strings mean "unknown" (the pipeline writes N/A)."""

    caption: str
    lyrics: str = ""
    language: str = DEFAULT_LANGUAGE
    bpm: int | None = None
    keyscale: str = ""
    timesignature: str = ""
    duration: float = 0.0  # seconds of audio the conditioning describes

    def pipeline_kwargs(self) -> dict:
        """Keyword arguments of ``AceStepPipeline.encode_prompt`` / ``__call__``."""
        return {
            "prompt": self.caption,
            "lyrics": self.lyrics,
            "vocal_language": self.language or DEFAULT_LANGUAGE,
            "audio_duration": self.duration,
            "bpm": self.bpm,
            "keyscale": self.keyscale or None,
            "timesignature": self.timesignature or None,
        }


def format_texts(song: SongText) -> tuple[str, str]:
    """(text prompt, lyrics prompt) strings, from the pipeline's own formatter."""
    from diffusers import AceStepPipeline

    kwargs = song.pipeline_kwargs()
    kwargs.pop("lyrics")
    # ``_format_prompt`` reads nothing from the instance but the static metadata builder,
    # so the class itself serves as ``self``.
    return AceStepPipeline._format_prompt(AceStepPipeline, lyrics=song.lyrics, **kwargs)
