"""A small training run folder for the listening bench: two step checkpoints, best/, final/, events."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from acestep_train.atomic import atomic_write_json
from acestep_train.events import EventLog
from acestep_train.export.adapter_state import Adapter, LoraFactors
from acestep_train.export.writers import write_lora
from acestep_train.tensors import Manifest


def random_lora(seed: int) -> Adapter:
    """A LoRA on the tiny DiT's self-attention q and cross-attention v (hidden 32)."""
    torch.manual_seed(seed)
    modules = {f"layers.{i}.self_attn.to_q": LoraFactors(torch.randn(4, 32), torch.randn(32, 4), 4.0)
               for i in range(2)}
    modules.update({f"layers.{i}.cross_attn.to_v": LoraFactors(torch.randn(4, 32), torch.randn(16, 4), 4.0)
                    for i in range(2)})
    return Adapter("lora", modules)


def make_run(root: Path) -> Path:
    """``root/run`` with checkpoints/2 and /4 (different adapters), best = 4, final = 4, step losses."""
    run = root / "run"
    events = EventLog(run / "events.jsonl")
    for step, seed in ((2, 5), (4, 6)):
        folder = run / "checkpoints" / str(step)
        adapter = random_lora(seed)
        adapter.metadata = {"trigger_word": "zzq", "step": step}
        write_lora(adapter, folder)
    for step, loss in ((1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)):
        events.emit("step", step=step, epoch=0, loss=loss, smoothed_loss=loss + 0.01)
    for name in ("best", "final"):
        shutil.copytree(run / "checkpoints" / "4", run / name)
    atomic_write_json(run / "best" / "acestep_studio.json", {"trigger_word": "zzq", "step": 4,
                                                             "moving_average_loss": 0.65})
    return run


def add_training_songs(run: Path, folder: Path, seconds: float = 12.0) -> list[Path]:
    """Three short songs (a tone, chords, a click track at 44.1 kHz) recorded as the run's training songs:
    ``run.json`` names a tensor folder whose ``manifest.json`` lists them as sources, as preprocessing does."""
    import soundfile
    from audio_fixtures import chords, click_track, tone

    folder.mkdir(parents=True, exist_ok=True)
    songs = {"tone.wav": (tone(seconds), 48000), "chords.wav": (chords([[0, 4, 7], [5, 9, 12]] * 3, seconds / 6), 44100),
             "clicks.flac": (click_track(120, seconds), 44100)}
    paths = []
    for name, (data, rate) in songs.items():
        soundfile.write(folder / name, data, rate)
        paths.append(folder / name)
    tensors = folder.parent / "tensors"
    Manifest("tiny", "tiny", None, 64, {}, samples={p.stem: {"file": f"{p.stem}.safetensors", "source": str(p)}
                                                    for p in paths}).save(tensors)
    atomic_write_json(run / "run.json", {"config": {"dataset_dir": str(tensors)}})
    return paths
