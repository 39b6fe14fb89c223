"""ACE-Step's captioner and transcriber (Qwen2.5-Omni thinkers) through transformers, from local folders.

Prompted the way they were fine-tuned (their model cards: "usage is the same as Qwen2.5-Omni-7B"):
the stock Qwen2.5-Omni system message, then one user turn holding the task text, a line break and
the audio (16 kHz mono), in that order as the cards show it (``*Task* ...`` then ``<audio>``):
``*Task* Describe this audio in detail`` (captioner: an answer in prose, the caption; genre / key /
time signature / tempo words are mined from it by ``captioner.parse``)
or ``*Task* Transcribe this audio in detail`` (transcriber: ``# Languages`` / ``# Lyrics``
with [Verse]/[Chorus] tags). No other question is asked: the fine-tunes degrade with any other
system prompt or request. The task text can be overridden (``OmniSettings``) for experiments.

Loaded as ``Qwen2_5OmniThinkerForConditionalGeneration`` (the full Omni class fails in
``generate`` without its talker) with an audio-only processor (``captioner.omni_processor``).
Lyrics are never cut at a fixed token count: the budget grows with the song, songs longer
than the model's audio window are transcribed window by window, split in quiet moments, and a
decode that still runs out of tokens (``max_new_tokens`` generated, no end token) loses its
unfinished last line and its looping tail, and is reported; one that ended is kept whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from captioner import loading, windows
from captioner.backend import NOTES, Audio, Backend
from captioner.parse import parse_output
from captioner.transcript import parse_transcription, pick_language

REPOS = {"captioner": "ACE-Step/acestep-captioner", "transcriber": "ACE-Step/acestep-transcriber"}
SYSTEM_PROMPT = ("You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving "
                 "auditory and visual inputs, as well as generating text and speech.")
CAPTION_PROMPT = "*Task* Describe this audio in detail"
TRANSCRIBE_PROMPT = "*Task* Transcribe this audio in detail"
AUDIO_RATE = 16000  # what the Qwen2.5-Omni audio encoder (a Whisper feature extractor) takes
CAPTIONER_FIELDS = ("caption", "genre", "bpm", "keyscale", "timesignature")
TRANSCRIBER_FIELDS = ("lyrics", "language", "is_instrumental")


@dataclass(frozen=True)
class OmniSettings:
    caption_tokens: int = 512  # the description
    caption_prompt: str = ""  # the captioner's task text; empty: CAPTION_PROMPT (what it was trained on)
    transcribe_prompt: str = ""  # the transcriber's task text; empty: TRANSCRIBE_PROMPT
    tokens_per_second: float = 12.0  # the lyrics budget grows with the song ...
    min_lyrics_tokens: int = 1024  # ... from this floor
    repetition_penalty: float = 1.05  # transcriber: loops on repeated phrases are its usual failure
    window_seconds: float = 0.0  # longest audio per prompt; 0: the feature extractor's window (300 s)

    def __post_init__(self):
        for name in ("caption_tokens", "min_lyrics_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.window_seconds < 0 or self.tokens_per_second <= 0:
            raise ValueError("window_seconds must be >= 0 and tokens_per_second > 0, got "
                             f"{self.window_seconds}, {self.tokens_per_second}")
        if self.repetition_penalty < 1.0:
            raise ValueError(f"repetition_penalty must be >= 1.0, got {self.repetition_penalty}")

    def lyrics_budget(self, seconds: float) -> int:
        return max(self.min_lyrics_tokens, math.ceil(seconds * self.tokens_per_second))

    def task(self, role: str) -> str:
        """The task text for ``role``: the user's override, else the model card's."""
        if role == "captioner":
            return self.caption_prompt.strip() or CAPTION_PROMPT
        return self.transcribe_prompt.strip() or TRANSCRIBE_PROMPT


def chat(task: str) -> list[dict]:
    """The conversation the models were fine-tuned on: the stock system message, then the user turn as
    both model cards write it: the task line, a line break, then the audio (``*Task* ...\n<audio>``)."""
    return [{"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
            {"role": "user", "content": [{"type": "text", "text": task + "\n"}, {"type": "audio"}]}]


def as_model_audio(audio: Audio) -> np.ndarray:
    """The song as the audio encoder takes it: float32 mono at 16 kHz."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=0 if samples.shape[0] <= 2 else 1)
    if samples.ndim != 1:
        raise ValueError(f"{audio.path}: audio of shape {samples.shape} is not mono or stereo")
    if audio.sample_rate != AUDIO_RATE:
        import librosa

        samples = librosa.resample(samples, orig_sr=audio.sample_rate, target_sr=AUDIO_RATE).astype(np.float32)
    return samples


class AceStepOmni(Backend):
    local_model = True

    def __init__(self, model_dir: str | Path, role: str = "captioner", device: str | None = None,
                 quantize: str | None = None, settings: OmniSettings = OmniSettings()):
        if role not in REPOS:
            raise ValueError(f"role must be captioner or transcriber, not {role!r}")
        self.model_dir = loading.require_model_folder(
            model_dir, f"download {REPOS[role]} into it (python -m captioner --download-only --backend acestep-{role} "
                       f"--{role}-dir {model_dir}, or the captioner app's Download models button) or choose its folder")
        self.role, self.device, self.quantize, self.settings = role, device, loading.check_quantize(quantize), settings
        self.name = f"acestep-{role}"
        self.provides = CAPTIONER_FIELDS if role == "captioner" else TRANSCRIBER_FIELDS
        self.essential = ("caption",) if role == "captioner" else ("lyrics",)
        self.model = self.processor = None

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def load(self) -> None:
        from transformers import Qwen2_5OmniThinkerForConditionalGeneration

        from captioner.omni_processor import load_processor

        device = loading.pick_device(self.device)
        self.model = loading.from_pretrained(Qwen2_5OmniThinkerForConditionalGeneration, self.model_dir, device,
                                             self.quantize)
        self.processor = load_processor(self.model_dir)

    def prepare(self, samples: np.ndarray, prompt: str):
        if self.model is None:
            self.load()
        rate = self.processor.feature_extractor.sampling_rate
        if rate != AUDIO_RATE or np.ndim(samples) != 1:
            raise ValueError(f"{self.name}: the model takes mono audio at {AUDIO_RATE} Hz (its feature extractor says "
                             f"{rate} Hz; the audio has shape {np.shape(samples)})")
        text = self.processor.apply_chat_template(chat(prompt), add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[text], audio=[samples], sampling_rate=AUDIO_RATE, return_tensors="pt",
                                padding=True)
        inputs = inputs.to(self.model.device)
        inputs["input_features"] = inputs["input_features"].to(self.model.dtype)
        return inputs

    def generate(self, samples: np.ndarray, prompt: str, max_new_tokens: int, **options) -> tuple[str, bool]:
        """(answer text, whether the decode stopped at ``max_new_tokens`` instead of its end token)."""
        import torch

        inputs = self.prepare(samples, prompt)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, **options)
        new = output[0, inputs["input_ids"].shape[1]:]
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos])
        cut = len(new) >= max_new_tokens and int(new[-1]) not in eos
        return self.processor.tokenizer.decode(new, skip_special_tokens=True), cut

    def window(self) -> float:
        from captioner.omni_processor import window_seconds

        if self.processor is None:
            self.load()
        return self.settings.window_seconds or window_seconds(self.processor)

    def caption(self, audio: Audio) -> dict:
        return self.describe(audio) if self.role == "captioner" else self.transcribe(audio)

    def describe(self, audio: Audio) -> dict:
        samples = as_model_audio(audio)[: int(self.window() * AUDIO_RATE)]  # the first window says enough
        text, cut = self.generate(samples, self.settings.task("captioner"), self.settings.caption_tokens)
        fields = parse_output(text, cut=cut, wanted=self.provides)
        fields = {name: value for name, value in fields.items() if name in self.provides}
        return fields if "caption" in fields else {**fields, NOTES: [f"{self.name}: the model gave no description"]}

    def transcribe(self, audio: Audio) -> dict:
        pieces = windows.split(as_model_audio(audio), AUDIO_RATE, self.window())
        parts, notes = [], []
        for index, piece in enumerate(pieces):
            budget = self.settings.lyrics_budget(len(piece) / AUDIO_RATE)
            text, cut = self.generate(piece, self.settings.task("transcriber"), budget,
                                      repetition_penalty=self.settings.repetition_penalty)
            if cut:
                notes.append(f"{self.name}: window {index + 1} used all {budget} tokens; its unfinished last "
                             "line and any looping tail were dropped")
            parts.append(parse_transcription(text, cut=cut))
        return merge_windows(parts) | ({NOTES: notes} if notes else {})

    def unload(self) -> None:
        self.model = self.processor = None
        loading.free()


def merge_windows(parts: list[dict]) -> dict:
    """One song's fields from its windows' transcriptions, in order. The language is the one sung most
    (``pick_language``: by lyric characters, ties to the first window), never a hash-order pick."""
    sung = [part for part in parts if part["lyrics"] and not part.get("is_instrumental")]
    if sung:
        fields = {"lyrics": "\n\n".join(part["lyrics"] for part in sung), "is_instrumental": False}
    elif any(part.get("is_instrumental") for part in parts):
        fields = {"lyrics": "[Instrumental]", "is_instrumental": True}
    else:
        fields = {"lyrics": ""}  # every window came back empty or cut inside its headers
    language = pick_language([(part.get("language"), part["lyrics"]) for part in sung or parts])
    return {**fields, "language": language} if language else fields
