"""ACE-Step's captioner and transcriber (Qwen2.5-Omni thinkers) through transformers, from local folders.

Loaded as ``Qwen2_5OmniThinkerForConditionalGeneration`` (the full Omni class fails in
``generate`` without its talker); the processor is an audio-only subclass, since the stock one
needs torchvision for video. Two traps from FACTS.md are handled here: a feature extractor
saved with ``chunk_length`` 30 would silently cut songs at 30 s, so it is raised to 300; and
lyrics get a token budget that grows with the song instead of a fixed 512.
"""

from __future__ import annotations

import gc
from pathlib import Path

from captioner.backend import Audio, Backend
from captioner.parse import parse_output

REPOS = {"captioner": "ACE-Step/acestep-captioner", "transcriber": "ACE-Step/acestep-transcriber"}
PROMPTS = {
    "captioner": "Describe this song. Answer as JSON with keys caption, genre, bpm, key, time_signature, language.",
    "transcriber": "Transcribe the lyrics of this song with section tags such as [Verse] and [Chorus]. "
                   "First line: 'language: <code>', then 'lyrics:' and the lyrics.",
}
MIN_CHUNK_SECONDS = 300


def audio_only_processor(feature_extractor, tokenizer, chat_template=None):
    from transformers import Qwen2_5OmniProcessor
    from transformers.processing_utils import ProcessorMixin

    class AudioOnlyOmniProcessor(Qwen2_5OmniProcessor):
        def __init__(self, feature_extractor=None, tokenizer=None, chat_template=None):
            ProcessorMixin.__init__(self, feature_extractor, tokenizer, chat_template=chat_template)
            for name in ("image_token", "audio_token", "video_token", "image_token_id", "audio_token_id",
                         "video_token_id", "vision_bos_token", "vision_eos_token", "audio_bos_token", "audio_eos_token"):
                setattr(self, name, getattr(tokenizer, name))

    return AudioOnlyOmniProcessor(feature_extractor, tokenizer, chat_template=chat_template or tokenizer.chat_template)


class AceStepOmni(Backend):
    def __init__(self, model_dir: str | Path, role: str = "captioner", device: str | None = None,
                 quantize: str | None = None):
        if role not in PROMPTS:
            raise ValueError(f"role must be captioner or transcriber, not {role!r}")
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir}: no model here; download {REPOS[role]} into it "
                                    "(python -m huggingface_hub download ...) or choose its folder")
        self.role, self.device, self.quantize = role, device, quantize
        self.name = f"acestep-{role}"
        self.provides = ("caption", "genre", "bpm", "keyscale", "timesignature", "language") if role == "captioner" \
            else ("lyrics", "language")
        self.essential = ("caption",) if role == "captioner" else ("lyrics",)
        self.model = self.processor = None

    def load(self) -> None:
        import torch
        from transformers import (AutoTokenizer, BitsAndBytesConfig, Qwen2_5OmniThinkerForConditionalGeneration,
                                  WhisperFeatureExtractor)

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        quantization = None
        if self.quantize:
            quantization = BitsAndBytesConfig(load_in_8bit=self.quantize == "8bit", load_in_4bit=self.quantize == "4bit")
        model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
            self.model_dir, quantization_config=quantization, trust_remote_code=False,
            dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32)
        self.model = model if quantization else model.to(device)
        features = WhisperFeatureExtractor.from_pretrained(self.model_dir)
        if features.chunk_length < MIN_CHUNK_SECONDS:  # otherwise every song is cut at 30 s, silently
            features = WhisperFeatureExtractor(**{**features.to_dict(), "chunk_length": MIN_CHUNK_SECONDS,
                                                  "n_samples": MIN_CHUNK_SECONDS * features.sampling_rate,
                                                  "nb_max_frames": MIN_CHUNK_SECONDS * features.sampling_rate
                                                  // features.hop_length})
        self.processor = audio_only_processor(features, AutoTokenizer.from_pretrained(self.model_dir))

    def prepare(self, audio: Audio):
        if self.model is None:
            self.load()
        messages = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": PROMPTS[self.role]}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[text], audio=[audio.samples], return_tensors="pt", padding=True)
        return inputs.to(self.model.device)

    def caption(self, audio: Audio) -> dict:
        inputs = self.prepare(audio)
        budget = 512 if self.role == "captioner" else max(1024, int(audio.seconds * 12))
        output = self.model.generate(**inputs, max_new_tokens=budget, do_sample=False)
        text = self.processor.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        fields = parse_output(text)
        if self.role == "transcriber" and "lyrics" not in fields and text.strip():
            fields["lyrics"] = text.strip()
        return {k: v for k, v in fields.items() if k in self.provides}

    def unload(self) -> None:
        self.model = self.processor = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
