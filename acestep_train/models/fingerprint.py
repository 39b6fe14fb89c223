"""A cheap, stable fingerprint of the model parts that shape training tensors.

Preprocessed tensors depend on the VAE, the text encoder and the condition encoder (with
its silence latent), not on the DiT: a fine-tune that changed only the DiT keeps the
fingerprint, a different condition encoder changes it. Hashing 1.8 GB of weights would
take seconds; we hash each relevant tensor's name, dtype, shape and its first and last
4 KiB of bytes, read straight from the file at the offsets the header gives. Two
different trainings of the same architecture differ in those bytes with certainty.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import torch

from acestep_train.models import keymap
from acestep_train.models.discovery import VAE_WEIGHTS, ModelInfo

SAMPLE_BYTES = 4096


def _hash_tensors(digest, path: Path, rename) -> None:
    """Hash tensors under their canonical names; ``rename(key)`` gives it, or None to skip."""
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
        base = 8 + header_len
        named = {rename(k): k for k in header if k != "__metadata__"}
        named.pop(None, None)
        for name in sorted(named):
            entry = header[named[name]]
            start, end = entry["data_offsets"]
            digest.update(f"{name}|{entry['dtype']}|{entry['shape']}|".encode())
            handle.seek(base + start)
            digest.update(handle.read(min(SAMPLE_BYTES, end - start)))
            handle.seek(base + max(start, end - SAMPLE_BYTES))
            digest.update(handle.read(min(SAMPLE_BYTES, end - start)))


def _conditioning_name(key: str) -> str | None:
    mapped = keymap.from_original_key(key)
    return mapped[1] if mapped is not None and mapped[0] == keymap.CONDITION_ENCODER else None


def conditioning_fingerprint(info: ModelInfo) -> str:
    """sha256 hex of the VAE, text encoder and condition encoder (incl. silence latent).

    Names are canonical (diffusers) and the silence latent is hashed in its loaded
    [1, T, C] form, so the same weights give the same fingerprint in either layout.
    """
    from acestep_train.models.loading import load_silence_latent
    from acestep_train.models.safetensors_file import read_header

    files = info.files
    digest = hashlib.sha256()
    for path in (files.vae_dir / VAE_WEIGHTS, files.text_encoder_dir / "model.safetensors"):
        read_header(path)
        _hash_tensors(digest, path, rename=lambda key: key)
    read_header(files.condition_weights)
    if info.layout == "original":
        _hash_tensors(digest, files.condition_weights, rename=_conditioning_name)
        silence = load_silence_latent(files.silence_latent)
    else:
        _hash_tensors(digest, files.condition_weights, rename=lambda k: None if k == "silence_latent" else k)
        from safetensors import safe_open

        with safe_open(str(files.condition_weights), framework="pt", device="cpu") as handle:
            silence = handle.get_tensor("silence_latent")
    digest.update(f"silence_latent|{silence.dtype}|{list(silence.shape)}|".encode())
    digest.update(silence.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
