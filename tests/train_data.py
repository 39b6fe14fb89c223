"""Tensor folders for training tests: real preprocessing output of generated songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from acestep_train.models import find_model
from acestep_train.preprocess.audio_input import decode_for_model
from acestep_train.preprocess.plan import PreprocessItem, PreprocessSettings
from acestep_train.preprocess.runner import PreprocessJob
from acestep_train.prompts import SongText


def make_tensors(root: Path, model_root: Path, variant: str, seconds=(1.6, 2.6, 3.6)) -> Path:
    """Preprocess one generated song per entry of ``seconds`` with the tiny model; returns the folder."""
    songs = root / "songs"
    songs.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    items = []
    for index, length in enumerate(seconds):
        t = np.arange(int(length * 48000)) / 48000
        wave = 0.3 * np.sin(2 * np.pi * (180 + 60 * index) * t)[:, None] + 0.02 * rng.standard_normal((len(t), 2))
        path = songs / f"song{index}.wav"
        soundfile.write(path, wave.astype("float32"), 48000)
        items.append(PreprocessItem(f"song{index}", path, SongText(f"test song {index}", "[Verse]\nla la")))
    out = root / "tensors"
    PreprocessJob(find_model([model_root], variant), PreprocessSettings(), out, decode_for_model, "cpu").run(items)
    return out
