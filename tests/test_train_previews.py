"""Previews during training: written at the right steps, one distinct clip per strength."""

from __future__ import annotations

import numpy as np
import soundfile

from acestep_train.events import read_events
from acestep_train.train.config import load_config
from acestep_train.train.setup import run_training
from train_data import make_tensors


def test_previews_at_the_right_steps_with_distinct_scales(tiny_original, tmp_path):
    tensors = make_tensors(tmp_path, tiny_original, "turbo", seconds=(1.6, 2.6))
    (tmp_path / "run" / "control").mkdir(parents=True)
    config = load_config(None, {
        "checkpoint_dirs": [str(tiny_original)], "model_variant": "turbo", "dataset_dir": str(tensors),
        "output_dir": str(tmp_path / "run"), "loop.epochs": 3, "data.max_latent_length": 30, "optim.lr": 2e-2,
        "previews.every_steps": 3, "previews.duration": 1.0, "previews.steps": 2, "previews.scales": [0.0, 1.0, 1.5],
        "trigger_word": "zzq", "schedule.name": "constant"})
    run_training(config)
    events = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e["event"] == "samples"]
    assert [e["step"] for e in events] == [3, 6]
    clips = {scale: soundfile.read(path)[0] for scale, path in events[-1]["files"].items()}
    assert set(clips) == {"0.0", "1.0", "1.5"} and clips["1.0"].shape == (48000, 2)
    assert np.abs(clips["0.0"] - clips["1.0"]).max() > 1e-4
    assert np.abs(clips["1.0"] - clips["1.5"]).max() > 1e-4
    assert (tmp_path / "run" / "samples" / "6" / "scale_1.5.wav").is_file()
    estimate = next(e for e in read_events(tmp_path / "run" / "events.jsonl") if e["event"] == "vram_estimate")
    assert estimate["total"] > 0 and {"weights", "adapter", "activations", "overhead"} <= set(estimate)
