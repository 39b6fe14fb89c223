"""Audio as the VAE wants it: 48 kHz stereo float, truncated, normalized.

The seam between preprocessing and the audio module: ``decode_for_model`` is the one
function the runner calls for a song.
"""

from __future__ import annotations

from pathlib import Path

import torch

SAMPLE_RATE = 48000
PEAK_DBFS = -1.0
TARGET_LUFS = -14.0


def _read(path: Path, max_seconds: float) -> tuple[torch.Tensor, int]:
    import soundfile

    with soundfile.SoundFile(str(path)) as handle:
        rate = handle.samplerate
        data = handle.read(frames=int(max_seconds * rate), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError(f"{path}: no audio frames")
    return torch.from_numpy(data.T.copy()), rate


def to_stereo(audio: torch.Tensor) -> torch.Tensor:
    if audio.shape[0] == 1:
        return audio.repeat(2, 1)
    return audio[:2] if audio.shape[0] > 2 else audio


def normalize(audio: torch.Tensor, mode: str) -> torch.Tensor:
    """Peak to -1 dBFS, or loudness to -14 LUFS (ITU-R BS.1770 via torchaudio), or unchanged."""
    import torchaudio.functional as F

    if mode == "none":
        return audio
    peak = audio.abs().max()
    if peak == 0:
        raise ValueError("digital silence: nothing to train on")
    if mode == "peak":
        return audio * (10 ** (PEAK_DBFS / 20) / peak)
    loudness = F.loudness(audio, SAMPLE_RATE)
    gain = 10 ** ((TARGET_LUFS - float(loudness)) / 20)
    out = audio * gain
    return out / out.abs().max() * 10 ** (PEAK_DBFS / 20) if out.abs().max() > 1.0 else out


def decode_for_model(path: Path, max_seconds: float, mode: str) -> torch.Tensor:
    """[2, N] float32 at 48 kHz, at most ``max_seconds`` long, normalized by ``mode``."""
    import torchaudio.functional as F

    audio, rate = _read(Path(path), max_seconds)
    audio = to_stereo(audio)
    if rate != SAMPLE_RATE:
        audio = F.resample(audio, rate, SAMPLE_RATE)
    return normalize(audio[:, : int(max_seconds * SAMPLE_RATE)], mode)
