"""The training-tensor format: one ``.safetensors`` per sample plus ``manifest.json``.

Per sample (never pickle):
  target_latents          [T, C]    VAE latents of the song, 25 frames per second
  encoder_hidden_states   [L, D]    the condition encoder's packed lyric + timbre + text sequence
  encoder_attention_mask  [L]       1 for real tokens (the DiT does not take it; kept for padding)
  context_latents         [T, 2C]   silence latent + chunk mask (text2music)
and string metadata in the safetensors header (caption, duration, source file, ...).

``manifest.json`` records the conditioning fingerprint of the model that made the
tensors; training refuses a folder whose fingerprint is not its model's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from acestep_train import safe_json
from acestep_train.atomic import atomic_path, atomic_write_json

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TENSOR_KEYS = ("target_latents", "encoder_hidden_states", "encoder_attention_mask", "context_latents")


class TensorFormatError(ValueError):
    """A tensor file or manifest that is not what training expects."""


@dataclass
class SampleTensors:
    target_latents: torch.Tensor
    encoder_hidden_states: torch.Tensor
    encoder_attention_mask: torch.Tensor
    context_latents: torch.Tensor
    metadata: dict[str, str] = field(default_factory=dict)

    def validate(self, source: str | Path = "sample") -> None:
        t, c = self.target_latents.shape if self.target_latents.ndim == 2 else (None, None)
        problems = []
        if t is None:
            problems.append(f"target_latents must be [T, C], got {list(self.target_latents.shape)}")
        elif tuple(self.context_latents.shape) != (t, 2 * c):
            problems.append(f"context_latents {list(self.context_latents.shape)} != [{t}, {2 * c}]")
        if self.encoder_hidden_states.ndim != 2:
            problems.append(f"encoder_hidden_states must be [L, D], got {list(self.encoder_hidden_states.shape)}")
        elif tuple(self.encoder_attention_mask.shape) != (self.encoder_hidden_states.shape[0],):
            problems.append(
                f"encoder_attention_mask {list(self.encoder_attention_mask.shape)} != "
                f"[{self.encoder_hidden_states.shape[0]}]"
            )
        if problems:
            raise TensorFormatError(f"{source}: {'; '.join(problems)}")

    @property
    def frames(self) -> int:
        return int(self.target_latents.shape[0])


def write_sample(path: str | Path, sample: SampleTensors) -> None:
    """Write atomically: a crash mid-write leaves no half-written tensor file."""
    from safetensors.torch import save_file

    sample.validate(path)
    tensors = {key: getattr(sample, key).detach().cpu().contiguous() for key in TENSOR_KEYS}
    metadata = {key: str(value) for key, value in sample.metadata.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_sample(path: str | Path) -> SampleTensors:
    from safetensors import safe_open

    from acestep_train.models.safetensors_file import read_header

    header = read_header(path)
    missing = [key for key in TENSOR_KEYS if key not in header]
    if missing:
        raise TensorFormatError(f"{path}: not a training tensor file (missing {', '.join(missing)})")
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        tensors = {key: handle.get_tensor(key) for key in TENSOR_KEYS}
        metadata = dict(handle.metadata() or {})
    sample = SampleTensors(**tensors, metadata=metadata)
    sample.validate(path)
    return sample


@dataclass
class Manifest:
    model_fingerprint: str
    model_name: str
    variant: str | None
    latent_channels: int
    settings: dict
    samples: dict[str, dict] = field(default_factory=dict)  # sample id -> {file, content_hash, ...}
    format_version: int = FORMAT_VERSION

    def save(self, folder: str | Path) -> None:
        atomic_write_json(Path(folder) / MANIFEST, asdict(self))

    @classmethod
    def load(cls, folder: str | Path) -> "Manifest":
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise TensorFormatError(f"{path}: no manifest; preprocess this folder first")
        try:
            data = safe_json.load_file(path)
            manifest = cls(**data)
        except (ValueError, TypeError) as error:
            raise TensorFormatError(f"{path}: unreadable manifest ({error})") from error
        if manifest.format_version != FORMAT_VERSION:
            raise TensorFormatError(f"{path}: format version {manifest.format_version}, expected {FORMAT_VERSION}")
        return manifest

    def samples_frames(self, file: str) -> int:
        """Latent frames of the sample stored in ``file``."""
        for entry in self.samples.values():
            if entry["file"] == file:
                return int(entry["frames"])
        raise KeyError(file)

    def check_model(self, fingerprint: str, model_name: str, folder: str | Path) -> None:
        """Refuse tensors made by another model: they would train on the wrong conditioning."""
        if fingerprint != self.model_fingerprint:
            raise TensorFormatError(
                f"{Path(folder) / MANIFEST}: these tensors were made with model {self.model_name!r} "
                f"(fingerprint {self.model_fingerprint[:12]}), not {model_name!r} ({fingerprint[:12]}); "
                "preprocess the songs again with this model"
            )
