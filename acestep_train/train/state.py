"""Checkpoints, best-model tracking and run control (stop / save now) for the training loop.

A checkpoint folder holds the adapter (loadable by ``export``) and ``trainer_state.pt``:
optimizer, scheduler, RNG states and counters (epoch, batch position, step). It is written
with ``torch.save`` and read only with ``torch.load(weights_only=True)``: tensors and plain
containers, no code.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from acestep_train.atomic import atomic_path, atomic_write_json

STATE_FILE = "trainer_state.pt"


@dataclass
class Counters:
    step: int = 0  # optimizer steps done
    epoch: int = 0  # current epoch (0-based)
    batch: int = 0  # micro-batches of this epoch already consumed, by all ranks together (train/nodes.py)
    nan_streak: int = 0
    world_size: int = 1  # processes that trained up to here (a resume on another count keeps the global batch)
    num_nodes: int = 1
    grad_accum: int | None = None  # accumulation they used (None: a checkpoint from before this was recorded)


@dataclass
class BestTracker:
    """Moving average of the last ``window`` epoch losses; a new best must beat the old by ``min_delta``."""

    window: int = 5
    min_delta: float = 0.001
    track_from_epoch: int = 0
    patience: int = 0
    history: list = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    since_best: int = 0

    def update(self, epoch: int, loss: float) -> tuple[bool, bool]:
        """(new best?, stop early?) after an epoch."""
        self.history.append(loss)
        average = sum(self.history[-self.window:]) / len(self.history[-self.window:])
        if epoch < self.track_from_epoch:
            return False, False
        if self.best is None or average < self.best - self.min_delta:
            self.best, self.best_epoch, self.since_best = average, epoch, 0
            return True, False
        self.since_best += 1
        return False, self.patience > 0 and self.since_best >= self.patience


def save_state(folder: Path, optimizer, scheduler, counters: Counters, best: BestTracker,
               generator: torch.Generator) -> None:
    state = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "counters": asdict(counters),
        "best": asdict(best),
        "rng": {"torch": torch.get_rng_state(), "generator": generator.get_state(),
                "python": list(random.getstate()[1]), "python_version": random.getstate()[0],
                "python_gauss": random.getstate()[2]},
    }
    with atomic_path(folder / STATE_FILE) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)  # through a Python file: a full disk surfaces as OSError(ENOSPC), not only C++ text
    atomic_write_json(folder / "counters.json", asdict(counters))


def read_state(folder: Path) -> dict:
    path = folder / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a training checkpoint (no trainer state); cannot resume from it")
    return torch.load(path, map_location="cpu", weights_only=True)


def read_checkpoint(folder: Path) -> tuple[Path, dict, dict]:
    """(adapter weights file, its tensors, the trainer state) of a step checkpoint, to resume from."""
    from acestep_train.models.safetensors_file import load_tensors
    from acestep_train.train.adapters import saved_weights
    from acestep_train.train.errors import TrainingError

    try:
        weights = saved_weights(folder)
    except FileNotFoundError as error:
        raise TrainingError(f"{folder}: no adapter weights to resume from") from error
    return weights, load_tensors(weights), read_state(folder)


def apply_state(state: dict, optimizer, scheduler, generator: torch.Generator) -> tuple[Counters, BestTracker]:
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    generator.set_state(rng["generator"])
    random.setstate((rng["python_version"], tuple(rng["python"]), rng["python_gauss"]))
    return Counters(**state["counters"]), BestTracker(**state["best"])


REQUESTS = ("stop", "save", "sample")


class Control:
    """Requests from the UI or another shell: files ``<output>/control/{stop,save,sample}``."""

    def __init__(self, output_dir: Path):
        self.folder = output_dir / "control"
        self.folder.mkdir(parents=True, exist_ok=True)

    def drop_stale(self, started: float) -> list[str]:
        """Remove requests written before ``started`` (this process's start): a stop pressed for an
        earlier run in this folder must never stop this one. Requests made since are kept."""
        dropped = []
        for request in REQUESTS:
            path = self.folder / request
            if path.is_file() and path.stat().st_mtime < started:
                path.unlink(missing_ok=True)
                dropped.append(request)
        return dropped

    def take(self, request: str) -> bool:
        path = self.folder / request
        if path.exists():
            path.unlink(missing_ok=True)
            return True
        return False

    def request(self, what: str) -> None:
        (self.folder / what).touch()
