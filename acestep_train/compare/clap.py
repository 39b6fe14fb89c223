"""CLAP embeddings for the listening bench: transformers' ``ClapModel`` + ``ClapProcessor``, no model code of ours.

The weights are ``laion/clap-htsat-unfused``, fetched once by ``download --model clap`` into
``<checkpoint folder>/clap-htsat-unfused`` (``models.download``), or a folder the user names.
Audio is mixed to mono, resampled to CLAP's 48 kHz (torchaudio) and cut into 10 s windows, the
model's input length: each window is embedded on its own, so no random crop (the processor's
``rand_trunc`` / ``fusion`` paths for longer input) ever runs and a clip's embedding depends on
that clip alone. A window shorter than 10 s is repeat-padded by the processor. Embeddings are the
model's L2-normalized projections; a clip's embedding is the normalized mean of its windows'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from acestep_train.models.discovery import CLAP_FOLDER

CLAP_RATE = 48000
WINDOW_S = 10
MIN_TAIL_S = 1.0  # a last window shorter than this is dropped (unless it is the whole clip)


class ClapMissing(FileNotFoundError):
    """No CLAP weights where the bench looked; the message says how to get them."""


def how_to_get(checkpoint_dir: str | Path) -> str:
    return (f"CLAP scores need laion/clap-htsat-unfused: run `python -m acestep_train download --checkpoint-dir "
            f"{checkpoint_dir} --model clap` (or Service tab: Official model 'clap', Download), "
            f"or name a CLAP folder with --clap")


def find_clap(named: str | None, checkpoint_dirs: list[str] | tuple[str, ...]) -> Path:
    """The folder named, else ``<root>/clap-htsat-unfused`` in the first checkpoint folder that has it."""
    from acestep_train.paths import confine

    candidates = [confine(named, "CLAP folder")] if named else [Path(root) / CLAP_FOLDER for root in checkpoint_dirs]
    for folder in candidates:
        if (folder / "config.json").is_file():
            return folder
    where = ", ".join(str(c) for c in candidates) or "no checkpoint folder given"
    raise ClapMissing(f"no CLAP model in {where}. " + how_to_get(checkpoint_dirs[0] if checkpoint_dirs
                                                                  else "<checkpoint folder>"))


def windows(audio: torch.Tensor, rate: int) -> list[torch.Tensor]:
    """``audio`` [channels, samples] at ``rate`` -> mono 48 kHz windows of at most 10 s."""
    from acestep_train.audio import resample

    mono = resample(audio.float().mean(0, keepdim=True), rate, CLAP_RATE)[0]
    size = WINDOW_S * CLAP_RATE
    parts = list(mono.split(size))
    if len(parts) > 1 and parts[-1].numel() < MIN_TAIL_S * CLAP_RATE:
        parts.pop()
    if not parts or parts[0].numel() == 0:
        raise ValueError("no audio to embed (0 samples)")
    return parts


@dataclass
class ClapEmbedder:
    model: object  # transformers.ClapModel, in eval mode
    processor: object  # transformers.ClapProcessor
    device: str
    folder: Path

    @classmethod
    def load(cls, folder: str | Path, device: str | None = None) -> "ClapEmbedder":
        """Load a CLAP folder (config.json, weights, processor files) on ``device`` (the GPU when there is one)."""
        from transformers import ClapModel, ClapProcessor

        folder = Path(folder)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            processor = ClapProcessor.from_pretrained(folder)
            model = ClapModel.from_pretrained(folder, dtype=torch.float32, trust_remote_code=False)
        except (OSError, ValueError) as error:
            raise ClapMissing(f"{folder}: not a loadable CLAP model ({error})") from error
        return cls(model.to(device).eval(), processor, device, folder)

    @torch.no_grad()
    def audio_windows(self, audio: torch.Tensor, rate: int) -> torch.Tensor:
        """[windows, D] unit embeddings of ``audio`` [channels, samples]."""
        parts = [w.numpy() for w in windows(audio, rate)]
        features = self.processor.feature_extractor(parts, sampling_rate=CLAP_RATE, return_tensors="pt",
                                                    truncation="rand_trunc", padding="repeatpad")
        output = self.model.get_audio_features(input_features=features["input_features"].to(self.device))
        return output.pooler_output.float().cpu()

    @torch.no_grad()
    def text(self, texts: list[str]) -> torch.Tensor:
        """[len(texts), D] unit embeddings, each text on its own (no padding shared between prompts)."""
        rows = []
        for text in texts:
            tokens = self.processor.tokenizer([text], return_tensors="pt", truncation=True)
            output = self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})
            rows.append(output.pooler_output.float().cpu()[0])
        return torch.stack(rows)

    def fingerprint(self) -> str:
        """Which weights made an embedding: the config and the weight files' names and sizes."""
        import hashlib

        digest = hashlib.sha256((self.folder / "config.json").read_bytes())
        for weights in sorted(self.folder.glob("*.safetensors")) + sorted(self.folder.glob("*.bin")):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return digest.hexdigest()[:16]


def unit(vector: torch.Tensor) -> torch.Tensor:
    return vector / vector.norm().clamp_min(1e-12)


def clip_embedding(windows: torch.Tensor) -> torch.Tensor:
    """[D] unit embedding of a clip (or a song) from its windows' [windows, D]: the normalized mean."""
    return unit(windows.mean(0))
