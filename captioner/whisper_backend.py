"""Lyrics with timestamps from Whisper through transformers, from a local model folder.

Long songs go through Whisper's own sequential long-form decoding (timestamps on, no chunk
stitching, no fixed cut of the song). Each timed segment is a lyric line; the batch writes them
as ``{stem}.lrc`` on request. ``quantize`` loads the model in 8-bit or 4-bit with bitsandbytes
for small GPUs; ``unload`` frees it.
"""

from __future__ import annotations

from pathlib import Path

from captioner import loading, normalize
from captioner.backend import LINES, Audio, Backend
from captioner.lyrics import TimedLine, plain_lyrics


class LocalWhisper(Backend):
    name, provides, essential = "whisper", ("lyrics", "language"), ("lyrics",)
    local_model = True

    def __init__(self, model_dir: str | Path, device: str | None = None, quantize: str | None = None,
                 language: str | None = None, max_new_tokens: int = 440):
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        self.model_dir = loading.require_model_folder(model_dir, "choose a Whisper model folder (transformers format)")
        self.device, self.quantize = device, loading.check_quantize(quantize)
        self.language, self.max_new_tokens = language, max_new_tokens
        self.asr = None

    @property
    def loaded(self) -> bool:
        return self.asr is not None

    def load(self):
        from transformers import AutoProcessor, WhisperForConditionalGeneration, pipeline

        device = loading.pick_device(self.device)
        model = loading.from_pretrained(WhisperForConditionalGeneration, self.model_dir, device, self.quantize,
                                        gpu_dtype="float16")
        # Whisper decodes at most max_target_positions tokens per 30 s window, its prompt included.
        self.max_new_tokens = min(self.max_new_tokens, model.config.max_target_positions - 8)
        processor = AutoProcessor.from_pretrained(self.model_dir)
        self.asr = pipeline("automatic-speech-recognition", model=model, tokenizer=processor.tokenizer,
                            feature_extractor=processor.feature_extractor)
        return self.asr

    def segments(self, audio: Audio) -> dict:
        asr = self.asr or self.load()
        kwargs = {"task": "transcribe", "max_new_tokens": self.max_new_tokens}
        if self.language:
            kwargs["language"] = self.language
        return asr({"raw": audio.samples, "sampling_rate": audio.sample_rate}, return_timestamps=True,
                   return_language=True, generate_kwargs=kwargs)

    def caption(self, audio: Audio) -> dict:
        result = self.segments(audio)
        chunks = result.get("chunks") or []
        lines = [TimedLine(float(c["timestamp"][0] or 0.0), c["timestamp"][1], c["text"].strip())
                 for c in chunks if c["text"].strip()]
        fields = {"lyrics": plain_lyrics(lines) or result.get("text", "").strip(), LINES: lines}
        language = self.language or next((c.get("language") for c in chunks if c.get("language")), None)
        found = normalize.language(language) if language else None
        return {**fields, "language": found} if found else fields

    def unload(self) -> None:
        self.asr = None
        loading.free()
