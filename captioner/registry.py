"""Backends by name, built from a ``CaptionConfig``: the one place that knows every backend's arguments.

Local models are not loaded here (each loads on its first song); a missing model folder or a
missing API key fails here, before any song is touched.
"""

from __future__ import annotations

import os

from captioner.backend import Backend
from captioner.config import KEY_VARIABLES, CaptionConfig


def api_key(backend: str, api_keys: dict[str, str] | None) -> str | None:
    """The key the UI gave (by backend name or variable name), else the environment's."""
    keys = api_keys or {}
    variable = KEY_VARIABLES[backend]
    return keys.get(backend) or keys.get(variable) or os.environ.get(variable) or None


def make_backend(name: str, config: CaptionConfig, api_keys: dict[str, str] | None = None) -> Backend:
    if name == "librosa":
        from captioner.librosa_backend import LibrosaAnalysis

        return LibrosaAnalysis()
    if name in ("acestep-captioner", "acestep-transcriber"):
        from captioner.omni_backend import AceStepOmni

        return AceStepOmni(config.model_folder(name), name.split("-")[1], config.device, config.quantize,
                           config.omni)
    if name == "whisper":
        from captioner.whisper_backend import LocalWhisper

        return LocalWhisper(config.model_folder(name), config.device, config.quantize, config.language)
    from captioner.cloud import ElevenLabsScribe, Gemini, OpenAIWhisper

    key = api_key(name, api_keys)
    if name == "gemini":
        return Gemini(key, config.base_url, config.retry, config.language, config.gemini_model, config.gemini_lyrics)
    cls = {"openai-whisper": OpenAIWhisper, "elevenlabs-scribe": ElevenLabsScribe}[name]
    return cls(key, config.base_url, config.retry, config.language)


def make_backends(config: CaptionConfig, api_keys: dict[str, str] | None = None) -> list[Backend]:
    return [make_backend(name, config, api_keys) for name in config.backends]
