"""The Qwen2.5-Omni processor without its video half, and a feature extractor that does not cut songs.

``Qwen2_5OmniProcessor`` builds a video processor that needs torchvision, which the studio does
not install; the audio-only subclass takes just the feature extractor and the tokenizer and
keeps the stock chat template. A feature extractor saved with ``chunk_length`` 30 silently cuts
every song at 30 s; it is raised to 300 s (the Omni-derived repos' own value).
"""

from __future__ import annotations

from pathlib import Path

from acestep_train import safe_json

MIN_CHUNK_SECONDS = 300


def feature_extractor(folder: Path):
    from transformers import WhisperFeatureExtractor

    features = WhisperFeatureExtractor.from_pretrained(folder)
    if features.chunk_length >= MIN_CHUNK_SECONDS:
        return features
    rate, hop = features.sampling_rate, features.hop_length
    return WhisperFeatureExtractor(**{**features.to_dict(), "chunk_length": MIN_CHUNK_SECONDS,
                                      "n_samples": MIN_CHUNK_SECONDS * rate,
                                      "nb_max_frames": MIN_CHUNK_SECONDS * rate // hop})


def audio_only_processor(features, tokenizer, chat_template: str | None = None):
    from transformers import Qwen2_5OmniProcessor
    from transformers.processing_utils import ProcessorMixin

    class AudioOnlyOmniProcessor(Qwen2_5OmniProcessor):
        def __init__(self, feature_extractor=None, tokenizer=None, chat_template=None):
            ProcessorMixin.__init__(self, feature_extractor, tokenizer, chat_template=chat_template)
            for name in ("image_token", "audio_token", "video_token", "image_token_id", "audio_token_id",
                         "video_token_id", "vision_bos_token", "vision_eos_token", "audio_bos_token",
                         "audio_eos_token"):
                setattr(self, name, getattr(tokenizer, name))

    return AudioOnlyOmniProcessor(features, tokenizer, chat_template=chat_template or tokenizer.chat_template)


def chat_template(folder: Path, tokenizer) -> str:
    """The tokenizer's template, else the processor's ``chat_template.json`` / ``.jinja`` (Omni repos ship those)."""
    if tokenizer.chat_template:
        return tokenizer.chat_template
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if (folder / "chat_template.json").is_file():
        return safe_json.load_file(folder / "chat_template.json")["chat_template"]
    raise FileNotFoundError(f"{folder}: no chat template (tokenizer_config.json, chat_template.json or .jinja)")


def load_processor(folder: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    return audio_only_processor(feature_extractor(folder), tokenizer, chat_template(folder, tokenizer))


def window_seconds(processor) -> float:
    """The longest audio one prompt takes whole (the feature extractor's window)."""
    return float(processor.feature_extractor.chunk_length)
