"""Import training tensors made by other ACE-Step trainers (``.pt`` dicts of tensors).

Their preprocessors save ``torch.save({...})`` dicts with ``target_latents`` [T, C],
``encoder_hidden_states`` [L, D], ``encoder_attention_mask`` [L], ``context_latents``
[T, 2C] (plus ``attention_mask`` [T] and a ``metadata`` dict). We read them with
``torch.load(weights_only=True)`` only: a file that needs anything beyond tensors and
plain containers to unpickle is refused, as is one missing a tensor or of the wrong
shape. Imported samples are rewritten in our safetensors format and manifest, bound to
the model the user names (its fingerprint), since a ``.pt`` does not say which model
made it.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch

from acestep_train.models import ModelInfo
from acestep_train.models.discovery import read_json
from acestep_train.models.fingerprint import conditioning_fingerprint
from acestep_train.models.keymap import encoder_width
from acestep_train.tensors import TENSOR_KEYS, Manifest, SampleTensors, TensorFormatError, write_sample


def read_pt_sample(path: Path) -> SampleTensors:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise TensorFormatError(f"{path}: refused: not a plain dict of tensors ({error})") from error
    if not isinstance(data, dict):
        raise TensorFormatError(f"{path}: refused: expected a dict of tensors, got {type(data).__name__}")
    missing = [key for key in TENSOR_KEYS if not isinstance(data.get(key), torch.Tensor)]
    if missing:
        raise TensorFormatError(f"{path}: refused: missing tensors {', '.join(missing)}")
    raw_meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    metadata = {str(k): str(v) for k, v in raw_meta.items() if isinstance(v, (str, int, float, bool))}
    metadata["imported_from"] = str(path)
    sample = SampleTensors(**{key: data[key] for key in TENSOR_KEYS}, metadata=metadata)
    if sample.encoder_attention_mask.ndim == 2:  # some tools keep a batch dimension of 1
        sample.encoder_attention_mask = sample.encoder_attention_mask[0]
    sample.validate(path)
    return sample


def check_shapes(sample: SampleTensors, config: dict, path: Path) -> None:
    """Latent width and conditioning width must be this model's, or training would crash later."""
    latent, width = sample.target_latents.shape[1], sample.encoder_hidden_states.shape[1]
    expected_latent = config["audio_acoustic_hidden_dim"]
    expected_width = encoder_width(config)
    if (latent, width) != (expected_latent, expected_width):
        raise TensorFormatError(
            f"{path}: refused: made for another model (latent width {latent}, conditioning width {width}; "
            f"this model has {expected_latent} and {expected_width})"
        )


def import_pt_folder(source: Path, output_dir: Path, info: ModelInfo) -> tuple[list[str], list[tuple[str, str]]]:
    """Convert every ``*.pt`` under ``source``; returns (imported ids, [(file, reason)] refused)."""
    files = sorted(Path(source).rglob("*.pt"))
    if not files:
        raise FileNotFoundError(f"{source}: no .pt files to import")
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(conditioning_fingerprint(info), info.name, info.variant.name, 0, {"imported_from": str(source)})
    config = read_json(info.files.transformer_config)
    imported, refused = [], []
    for path in files:
        try:
            sample = read_pt_sample(path)
            check_shapes(sample, config, path)
        except TensorFormatError as error:
            refused.append((str(path), str(error)))
            continue
        sample_id = f"{path.stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        write_sample(output_dir / f"{sample_id}.safetensors", sample)
        manifest.latent_channels = int(sample.target_latents.shape[1])
        manifest.samples[sample_id] = {"file": f"{sample_id}.safetensors", "content_hash": "imported",
                                       "source": str(path), "frames": sample.frames}
        imported.append(sample_id)
    manifest.save(output_dir)
    return imported, refused
