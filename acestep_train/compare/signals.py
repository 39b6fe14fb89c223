"""Signals beside the ears: how far a cell's audio is from the base render, and the run's loss.

``spectral_distance``: the mean absolute difference of log-magnitude spectrograms (STFT 2048 /
hop 512 of the mono mix), relative to the base's mean log magnitude. 0 exactly when the audio
is identical; a no-op adapter reads ~0, a blown-out one reads large. It measures difference,
not quality. ``checkpoint_loss``: the smoothed training loss the run logged at the step the
checkpoint was saved (``events.jsonl``), and the best tracker's moving average for ``best/``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from acestep_train import safe_json
from acestep_train.events import read_events


def _log_spectrum(audio: torch.Tensor) -> torch.Tensor:
    mono = audio.float().reshape(audio.shape[0], -1).mean(0) if audio.dim() > 1 else audio.float()
    window = torch.hann_window(2048)
    spectrum = torch.stft(mono, 2048, 512, window=window, return_complex=True, center=True)
    return torch.log1p(spectrum.abs())


def spectral_distance(audio: torch.Tensor, base: torch.Tensor) -> float:
    """Relative log-spectral distance of ``audio`` [channels, samples] to ``base`` (same shape)."""
    if audio.shape != base.shape:
        raise ValueError(f"audio shapes differ: {tuple(audio.shape)} vs {tuple(base.shape)}")
    a, b = _log_spectrum(audio), _log_spectrum(base)
    return float((a - b).abs().mean() / b.abs().mean().clamp_min(1e-12))


def _studio(folder: Path) -> dict:
    path = folder / "acestep_studio.json"
    return safe_json.load_file(path) if path.is_file() else {}


def checkpoint_loss(run: Path, folder: Path) -> dict:
    """``{"step", "loss", "best_average"}`` (None where the run did not record it)."""
    studio = _studio(folder)
    step = studio.get("step")
    loss = None
    if step is not None:
        logged = [e for e in read_events(run / "events.jsonl") if e.get("event") == "step" and e["step"] <= step]
        if logged:
            loss = logged[-1].get("smoothed_loss", logged[-1].get("loss"))
    return {"step": step, "loss": loss, "best_average": studio.get("moving_average_loss")}
