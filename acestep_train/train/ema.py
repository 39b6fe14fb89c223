"""An exponential moving average (EMA) of the adapter's trainable weights.

After every optimizer step each average tensor moves toward its live parameter:
``ema = lerp(ema, param, 1 - d)`` (torch's ``swa_utils.get_ema_multi_avg_fn``, one foreach lerp).
``d`` is ``ema.decay``; with ``ema.warmup`` the k-th update uses ``min(decay, (1 + s) / (10 + s))``
with ``s = k - 1`` (0 for the first update, which copies the weights), as diffusers' ``EMAModel``.

The average covers whatever the adapter trains (``Adapter.params``), so every adapter type
works unchanged. It is written as an adapter of the run's own kind: the live parameters are
swapped for the average, ``Adapter.save`` writes and verifies them, and the live ones come back
bit for bit. Resuming reads that folder back the same way, so a resumed run continues from the
exact average it saved. Under DDP every rank holds the same parameters after a step, so every
rank keeps the same average; rank 0 writes it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch.optim.swa_utils import get_ema_multi_avg_fn

from acestep_train import safe_json

FOLDER = "ema"  # inside a checkpoint and best/
FINAL = "final-ema"  # beside final/


class AdapterEma:
    """The average of ``params`` (a list of the adapter's trainable tensors), on their device or the CPU."""

    def __init__(self, params: list[torch.Tensor], decay: float, warmup: bool, on_cpu: bool):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema.decay must be in (0, 1), not {decay}")
        self.params, self.decay, self.warmup = params, decay, warmup
        self.device = torch.device("cpu") if on_cpu else params[0].device
        self.shadow = [p.detach().to(self.device, copy=True) for p in params]
        self.updates = 0

    def next_decay(self) -> float:
        """The decay the next update uses."""
        if not self.warmup:
            return self.decay
        step = self.updates  # updates done before this one
        return 0.0 if step == 0 else min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average toward the live parameters (call after each optimizer step)."""
        current = [p.detach().to(self.device) for p in self.params]  # a copy only when held on the CPU
        get_ema_multi_avg_fn(self.next_decay())(self.shadow, current, None)
        self.updates += 1

    @contextmanager
    @torch.no_grad()
    def swapped_in(self) -> Iterator[None]:
        """Inside the block the adapter's parameters hold the average; the live values return after."""
        live = [p.detach().to("cpu", copy=True) for p in self.params]
        try:
            for param, average in zip(self.params, self.shadow, strict=True):
                param.copy_(average)
            yield
        finally:
            for param, value in zip(self.params, live, strict=True):
                param.copy_(value)

    def record(self) -> dict:
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates}

    def save(self, adapter, folder: Path, metadata: dict) -> Path:
        """Write the average as an adapter folder (read back and checked by ``Adapter.save``)."""
        with self.swapped_in():
            return adapter.save(folder, {**metadata, "ema": self.record()})

    def load(self, adapter, folder: Path) -> dict:
        """Take the average (and its update count) from a folder ``save`` wrote; returns its record."""
        from acestep_train.models.safetensors_file import load_tensors
        from acestep_train.train.adapters import saved_weights

        weights = saved_weights(folder)
        record = safe_json.load_file(folder / "acestep_studio.json").get("ema")
        if not isinstance(record, dict) or not isinstance(record.get("updates"), int):
            raise ValueError(f"{folder}/acestep_studio.json: no EMA record (ema.updates); not an EMA folder")
        with self.swapped_in(), torch.no_grad():
            adapter.load_state(load_tensors(weights), weights)
            self.shadow = [p.detach().to(self.device, copy=True) for p in self.params]
        self.updates = record["updates"]
        return record

    def memory_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.shadow)


def make_ema(config, adapter) -> AdapterEma | None:
    """The run's average (``config`` is ``TrainConfig.ema``), or None when it is off."""
    if not config.enabled:
        return None
    return AdapterEma(adapter.params, config.decay, config.warmup, config.on_cpu)


def resume_ema(config, adapter, checkpoint: Path, warn) -> AdapterEma | None:
    """The average a resumed run continues: the checkpoint's ``ema/`` exactly, else (said in a warning)
    one starting from the resumed weights. ``adapter`` already holds the resumed weights."""
    saved = checkpoint / FOLDER
    if not config.enabled:
        if saved.is_dir():
            warn(f"{checkpoint} holds an EMA of the adapter but ema.enabled is off: this run keeps no average")
        return None
    ema = make_ema(config, adapter)
    if not saved.is_dir():
        warn(f"{checkpoint} holds no EMA of the adapter: the average starts from the resumed weights")
        return ema
    record = ema.load(adapter, saved)
    if (record.get("decay"), record.get("warmup")) != (config.decay, config.warmup):
        warn(f"{saved}: the average was kept with decay {record.get('decay')} (warm-up {record.get('warmup')}); "
             f"this run continues it with decay {config.decay} (warm-up {config.warmup})")
    return ema


def write_final(source: Path, last: Path, output: Path, warn) -> Path:
    """``final-ema/``: the average saved with the adapter ``final/`` came from (best/ or the last
    checkpoint); when best/ was written before the average was kept, the last checkpoint's average."""
    from acestep_train.atomic_dir import copy_complete
    from acestep_train.train.disk_full import saving

    chosen = source / FOLDER
    if not chosen.is_dir():
        warn(f"{source} holds no EMA (written before ema.enabled was on): final-ema/ is the average at "
             f"the last checkpoint, {last.name}")
        chosen = last / FOLDER
    target = output / FINAL
    with saving("the final EMA adapter", target):
        copy_complete(chosen, target, keep=lambda p: p.suffix in (".safetensors", ".json"))
    return target
