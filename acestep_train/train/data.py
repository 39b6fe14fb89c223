"""Training data: the tensor folder, crop windows that cover every song, equal-length batches.

Windows: a song longer than the crop is visited through a grid of crop-sized regions laid at
a random offset; every ``ceil(T / crop) + 1`` visits (epochs x repeats) cover every frame of
every song, in a random order and at shifting positions. Shorter songs are used whole. Batches group
windows of similar length (sorted within the epoch's shuffled order) and pad to the longest;
``frame_mask`` marks real frames so padding never reaches the loss. Everything random here is
a function of (seed, epoch), so the sampler's whole state is (epoch, batch position): resume
is exact.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from acestep_train.tensors import Manifest, read_sample


@dataclass(frozen=True)
class Window:
    file: str
    start: int
    length: int  # even: the DiT patchifies pairs of frames


@dataclass
class Batch:
    target_latents: torch.Tensor  # [B, T, C]
    context_latents: torch.Tensor  # [B, T, 2C]
    frame_mask: torch.Tensor  # [B, T] 1 = real frame
    encoder_hidden_states: torch.Tensor  # [B, L, D]
    encoder_mask: torch.Tensor  # [B, L] 1 = real token

    def to(self, device, dtype) -> "Batch":
        return Batch(self.target_latents.to(device, dtype), self.context_latents.to(device, dtype),
                     self.frame_mask.to(device), self.encoder_hidden_states.to(device, dtype),
                     self.encoder_mask.to(device))

    @property
    def size(self) -> int:
        return int(self.target_latents.shape[0])


class TensorFolder:
    """The preprocessed samples of one dataset folder (tensors read on demand)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = Manifest.load(self.folder)
        self.files = sorted(entry["file"] for entry in self.manifest.samples.values())
        if not self.files:
            raise ValueError(f"{self.folder}: the manifest lists no samples; preprocess songs first")
        missing = [f for f in self.files if not (self.folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{self.folder}: tensor files missing: {', '.join(missing[:3])}")
        self.frames = {f: int(self.manifest.samples_frames(f)) for f in self.files}

    def load(self, file: str):
        return read_sample(self.folder / file)


def window_start(total: int, crop: int, seed: int, file: str, visit: int) -> int:
    """Start of the ``visit``-th window of a song: every ``slots`` visits cover the whole song.

    Each cycle of ``slots`` visits lays a grid of crop-sized regions at a random even offset
    over the song and visits them in a random order; each window covers its region (clamped at
    the ends), so the regions, and with them every frame, are all trained on once per cycle.
    """
    slots = math.ceil(total / crop) + 1
    cycle, index = divmod(visit, slots)
    rng = random.Random(f"{seed}:{file}:{cycle}")
    offset = 2 * rng.randrange(crop // 2)
    region = rng.sample(range(slots), slots)[index]
    return min(max(offset + (region - 1) * crop, 0), total - crop)


def windows_for_epoch(frames: dict[str, int], crop: int, repeats: int, seed: int, epoch: int) -> list[Window]:
    windows = []
    for file in sorted(frames):
        total = frames[file] - frames[file] % 2
        for repeat in range(repeats):
            if crop == 0 or total <= crop:
                windows.append(Window(file, 0, total))
            else:
                windows.append(Window(file, window_start(total, crop, seed, file, epoch * repeats + repeat), crop))
    random.Random(f"{seed}:{epoch}").shuffle(windows)
    return windows


def batches_for_epoch(windows: list[Window], batch_size: int) -> list[list[Window]]:
    """Batches of similar length: sort each ``8 * batch`` chunk by length, then cut."""
    chunk = max(batch_size * 8, batch_size)
    batches = []
    for begin in range(0, len(windows), chunk):
        group = sorted(windows[begin:begin + chunk], key=lambda w: w.length)
        batches.extend(group[i:i + batch_size] for i in range(0, len(group), batch_size))
    return batches


def epoch_batches(frames: dict[str, int], crop: int, data, seed: int, epoch: int) -> list[list[Window]]:
    """An epoch's batches over the songs in ``frames`` (``data``: a ``DataConfig``), for all ranks together."""
    return batches_for_epoch(windows_for_epoch(frames, crop, data.repeats, seed, epoch), data.batch_size)


def rank_batches(frames: dict[str, int], crop: int, data, seed: int, epoch: int, world: int, rank: int,
                 start: int = 0) -> tuple[list[tuple[int, list[Window]]], int]:
    """(This rank's (position, batch) pairs of the epoch from position ``start`` on, the epoch's batch count);
    every rank gets the same number (``nodes.shard``)."""
    from acestep_train.train.nodes import shard

    batches = epoch_batches(frames, crop, data, seed, epoch)
    return [(position, batches[index]) for position, index in shard(len(batches), start, world, rank)], len(batches)


def collate(folder: TensorFolder, windows: list[Window]) -> Batch:
    samples = [folder.load(w.file) for w in windows]
    length = max(w.length for w in windows)
    tokens = max(s.encoder_hidden_states.shape[0] for s in samples)
    latent, width = samples[0].target_latents.shape[1], samples[0].encoder_hidden_states.shape[1]
    batch = Batch(torch.zeros(len(samples), length, latent), torch.zeros(len(samples), length, 2 * latent),
                  torch.zeros(len(samples), length), torch.zeros(len(samples), tokens, width),
                  torch.zeros(len(samples), tokens))
    for row, (window, sample) in enumerate(zip(windows, samples)):
        frames = slice(window.start, window.start + window.length)
        batch.target_latents[row, : window.length] = sample.target_latents[frames].float()
        batch.context_latents[row, : window.length] = sample.context_latents[frames].float()
        batch.frame_mask[row, : window.length] = 1
        n = sample.encoder_hidden_states.shape[0]
        batch.encoder_hidden_states[row, :n] = sample.encoder_hidden_states.float()
        batch.encoder_mask[row, :n] = sample.encoder_attention_mask.float()
    return batch
