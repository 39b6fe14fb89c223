"""One captioning run's settings: built by the CLI, the captioner app and the trainer's auto-label tab alike.

Validated once, on construction; an error names the setting. API keys are not settings: they
come from the environment or the UI, are passed to ``captioner.job.run_job`` separately, and
are never written to a config, a command line, an event or a sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from captioner import normalize
from captioner.http_client import RetryPolicy
from captioner.loading import check_quantize
from captioner.omni_backend import OmniSettings

BACKENDS = ("librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini", "openai-whisper",
            "elevenlabs-scribe")
LOCAL_MODELS = {"acestep-captioner": "captioner_dir", "acestep-transcriber": "transcriber_dir",
                "whisper": "whisper_dir"}
CLOUD = ("gemini", "openai-whisper", "elevenlabs-scribe")
KEY_VARIABLES = {"gemini": "GEMINI_API_KEY", "openai-whisper": "OPENAI_API_KEY",
                 "elevenlabs-scribe": "ELEVENLABS_API_KEY"}
#: Sub-folders of ``model_dir`` each local model is looked for in.
MODEL_FOLDERS = {"acestep-captioner": "acestep-captioner", "acestep-transcriber": "acestep-transcriber",
                 "whisper": "whisper"}


@dataclass
class CaptionConfig:
    audio_dir: Path  # the folder of songs (searched recursively)
    backends: tuple[str, ...] = ("librosa",)  # in priority order: the first to give a field wins
    only_missing: bool = False  # skip songs that already have the fields these backends give
    overwrite: bool = False  # replace the user's values too (typed, hand-made, imported)
    tag: str = ""  # activation tag written to every song's custom_tag
    csv_out: Path | None = None  # also write all captions to this CSV
    two_pass: bool = False  # caption every song, free those models, then transcribe every song
    timestamps: bool = False  # write timed lyrics (Whisper, OpenAI, ElevenLabs) as {stem}.lrc
    max_seconds: float = 600.0  # audio read per song
    events: Path | None = None  # progress events for the UI's job runner (events.jsonl)
    model_dir: Path | None = None  # a folder holding acestep-captioner/, acestep-transcriber/, whisper/
    captioner_dir: Path | None = None  # a local ACE-Step/acestep-captioner (overrides model_dir)
    transcriber_dir: Path | None = None  # a local ACE-Step/acestep-transcriber (overrides model_dir)
    whisper_dir: Path | None = None  # a local Whisper model, transformers format (overrides model_dir)
    quantize: str | None = None  # "8bit" / "4bit": load local models with bitsandbytes (small GPUs)
    device: str | None = None  # "cuda", "cuda:1", "cpu"; default: the GPU when there is one
    language: str | None = None  # the sung language for Whisper and the cloud transcribers; default detected
    base_url: str | None = None  # another endpoint for the cloud backends (a proxy, a test server)
    gemini_model: str = "gemini-2.5-flash"
    gemini_lyrics: bool = False  # Gemini also writes lyrics with section tags
    model_metadata: bool = False  # BPM / key / meter a captioning model states win over measured ones
    min_confidence: float = 0.0  # measured BPM / key / meter less sure than this (0-1) are not written
    omni: OmniSettings = field(default_factory=OmniSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self):
        self.audio_dir = Path(self.audio_dir)
        if not self.audio_dir.is_dir():
            raise FileNotFoundError(f"audio_dir: {self.audio_dir} is not a folder")
        self.backends = tuple(self.backends)
        self._check_backends()
        for name in ("csv_out", "events", "model_dir", *LOCAL_MODELS.values()):
            value = getattr(self, name)
            setattr(self, name, Path(value) if value not in (None, "") else None)
        try:
            self.quantize = check_quantize(None if self.quantize in ("", "none") else self.quantize)
        except ValueError as error:
            raise ValueError(f"quantize: {error}") from None
        if self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")
        if self.language:
            self.language = normalize.language(self.language)
            if self.language in (None, "unknown"):
                raise ValueError("language must be a language code such as en, ja, yue (or empty to detect)")
        self.tag = self.tag.strip()
        for backend in LOCAL_MODELS:
            if backend in self.backends and self.model_folder(backend) is None:
                raise ValueError(f"{LOCAL_MODELS[backend]}: the {backend} backend needs its model folder "
                                 f"(or model_dir holding {MODEL_FOLDERS[backend]}/)")

    def _check_backends(self):
        if not self.backends:
            raise ValueError("backends: choose at least one of " + ", ".join(BACKENDS))
        unknown = [name for name in self.backends if name not in BACKENDS]
        if unknown:
            raise ValueError(f"backends: unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
        if len(set(self.backends)) != len(self.backends):
            raise ValueError(f"backends: {', '.join(self.backends)} names one twice")

    def model_folder(self, backend: str) -> Path | None:
        explicit = getattr(self, LOCAL_MODELS[backend])
        if explicit is not None:
            return explicit
        return self.model_dir / MODEL_FOLDERS[backend] if self.model_dir is not None else None

    @property
    def uses_gpu(self) -> bool:
        return any(name in LOCAL_MODELS for name in self.backends)

    def to_argv(self) -> list[str]:
        """The ``python -m captioner`` arguments for this config (for a job runner). Keys are not in it."""
        argv = ["--audio-dir", str(self.audio_dir), "--backend", ",".join(self.backends),
                "--max-seconds", f"{self.max_seconds:g}"]
        for flag, value in (("--tag", self.tag), ("--csv", self.csv_out), ("--events", self.events),
                            ("--model-dir", self.model_dir), ("--captioner-dir", self.captioner_dir),
                            ("--transcriber-dir", self.transcriber_dir), ("--whisper-dir", self.whisper_dir),
                            ("--quantize", self.quantize), ("--device", self.device), ("--language", self.language),
                            ("--base-url", self.base_url)):
            argv += [flag, str(value)] if value else []
        for flag, value in (("--caption-prompt", self.omni.caption_prompt),
                            ("--transcribe-prompt", self.omni.transcribe_prompt)):
            argv += [flag, value] if value.strip() else []
        if self.gemini_model != CaptionConfig.gemini_model:
            argv += ["--gemini-model", self.gemini_model]
        if self.min_confidence:
            argv += ["--min-confidence", f"{self.min_confidence:g}"]
        for flag, on in (("--only-missing", self.only_missing), ("--overwrite", self.overwrite),
                         ("--two-pass", self.two_pass), ("--timestamps", self.timestamps),
                         ("--gemini-lyrics", self.gemini_lyrics), ("--model-metadata", self.model_metadata)):
            argv += [flag] if on else []
        return argv
