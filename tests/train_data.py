"""Tensor folders for training tests: real preprocessing output of generated songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

import torch

from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.models import find_model, load_components
from acestep_train.previews import adapter_applied, deltas_on
from acestep_train.tensors import read_sample
from acestep_train.train.config import load_config
from acestep_train.train.flow import masked_loss
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


def fixed_eval_loss(tiny_original, tensors, adapter_dir=None, variant: str = "turbo") -> float:
    """Loss on fixed noise and timesteps over every song, with the adapter (if any) applied."""
    transformer = load_components(find_model([tiny_original], variant), ["transformer"], "cpu").transformer
    deltas = deltas_on(transformer, load_adapter(adapter_dir)) if adapter_dir else {}
    gen, total = torch.Generator().manual_seed(0), 0.0
    with adapter_applied(transformer, deltas, 1.0), torch.no_grad():
        for path in sorted(tensors.glob("*.safetensors")):
            sample = read_sample(path)
            x0 = sample.target_latents[:30][None]
            for t in (0.3, 0.5, 0.75, 0.9):
                noise = torch.randn(x0.shape, generator=gen)
                tt = torch.tensor([t])
                pred = transformer(hidden_states=t * noise + (1 - t) * x0, timestep=tt, timestep_r=tt,
                                   encoder_hidden_states=sample.encoder_hidden_states[None],
                                   context_latents=sample.context_latents[:30][None]).sample
                total += float(masked_loss(pred, noise - x0, torch.ones(1, 30), torch.ones(1)))
    return total


def tiny_settings(tiny_original, tensors, output, **overrides):
    """A tiny turbo run's TrainConfig (4 epochs, LoRA rank 4, constant lr); ``overrides`` by dotted name."""
    values = {"checkpoint_dirs": [str(tiny_original)], "model_variant": "turbo", "dataset_dir": str(tensors),
              "output_dir": str(output), "loop.epochs": 4, "data.max_latent_length": 30, "adapter.rank": 4,
              "adapter.alpha": 4.0, "optim.lr": 5e-3, "schedule.name": "constant", **overrides}
    return load_config(None, values)


def step_events(output: Path) -> list[dict]:
    """The ``step`` events of the run in ``output``."""
    return [e for e in read_events(output / "events.jsonl") if e["event"] == "step"]
