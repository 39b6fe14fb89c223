"""Lyrics with Whisper through transformers, from a local model folder.

Long songs go through Whisper's own sequential long-form decoding (timestamps on, no chunk
stitching, no fixed token cut). ``quantize`` loads the model in 8-bit or 4-bit with
bitsandbytes for small GPUs; ``unload`` frees it. ``segments`` gives the timestamped lines.
"""

from __future__ import annotations

import gc
from pathlib import Path

from captioner.backend import Audio, Backend


class LocalWhisper(Backend):
    name, provides, essential = "whisper", ("lyrics", "language"), ("lyrics",)

    def __init__(self, model_dir: str | Path, device: str | None = None, quantize: str | None = None,
                 language: str | None = None, max_new_tokens: int = 440):
        if quantize not in (None, "8bit", "4bit"):
            raise ValueError(f"quantize must be 8bit or 4bit, not {quantize!r}")
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir}: no Whisper model here (config.json is missing)")
        self.device, self.quantize, self.language, self.max_new_tokens = device, quantize, language, max_new_tokens
        self.asr = None

    def load(self):
        import torch
        from transformers import AutoProcessor, BitsAndBytesConfig, WhisperForConditionalGeneration, pipeline

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        quantization = None
        if self.quantize:
            quantization = BitsAndBytesConfig(load_in_8bit=self.quantize == "8bit", load_in_4bit=self.quantize == "4bit")
        model = WhisperForConditionalGeneration.from_pretrained(
            self.model_dir, quantization_config=quantization, trust_remote_code=False,
            dtype=torch.float16 if device.startswith("cuda") else torch.float32)
        if quantization is None:
            model = model.to(device)
        # Whisper decodes at most max_target_positions tokens per 30 s window, prompt included.
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
        lines = [chunk["text"].strip() for chunk in result.get("chunks", []) if chunk["text"].strip()]
        language = next((c.get("language") for c in result.get("chunks", []) if c.get("language")), None)
        fields = {"lyrics": "\n".join(lines) or result.get("text", "").strip()}
        if language:
            fields["language"] = str(language)[:2]
        return fields

    def unload(self) -> None:
        self.asr = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
