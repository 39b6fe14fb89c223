"""Validation loss on the held-out songs: fixed crops, fixed timesteps, fixed noise, eval mode, no grad.

The probes are fixed once: per held-out song, ``validation.crops`` windows of the training crop
length, evenly spaced over the song (a song shorter than the crop is used whole, once), each at
``validation.timesteps`` timesteps spread over the run's timestep distribution (the turbo table's
entries, or quantiles of the logit-normal). The noise comes from a ``torch.Generator`` seeded with
``validation.seed`` afresh at every evaluation, and the whole evaluation runs inside
``torch.random.fork_rng``: the training RNG (our generator and torch's global one) is never read
or advanced, so a run trains identically with validation on or off. The model is put in eval
mode (no dropout) and restored after. Same weights in, the same number out, to the last bit, in
this process or after a resume.

The base model's loss on the same probes (adapter off) is the reference: a loss under it means the
adapter helps on songs it never saw. The base never changes during a run, so it is computed once
per process. Cost: one forward pass per probe (batch 1), songs x crops x timesteps of them, plus
as many once for the base; the trainer reports it as a fraction of a training step.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from acestep_train.train import data as data_mod
from acestep_train.train.flow import TURBO_TABLE, masked_loss, snr_weights


@dataclass(frozen=True)
class Probe:
    window: data_mod.Window
    t: float


@dataclass(frozen=True)
class Result:
    loss: float  # mean loss of the adapted model over the probes
    base_loss: float  # the same with the adapter off
    seconds: float  # wall time of this evaluation (the base's first computation included)
    passes: int  # forward passes run


def fixed_timesteps(flow, count: int) -> list[float]:
    """``count`` timesteps spread over the run's distribution, largest first."""
    if flow.sampler == "table":
        if count == 1:
            return [TURBO_TABLE[len(TURBO_TABLE) // 2]]
        last = len(TURBO_TABLE) - 1
        return [TURBO_TABLE[round(i * last / (count - 1))] for i in range(count)]
    normal = statistics.NormalDist(flow.mu, flow.sigma)
    quantiles = [normal.inv_cdf((count - i - 0.5) / count) for i in range(count)]
    return [float(torch.sigmoid(torch.tensor(q, dtype=torch.float64))) for q in quantiles]


def fixed_windows(frames: int, crop: int, crops: int, file: str) -> list[data_mod.Window]:
    """``crops`` windows evenly spaced over the song (even starts); the whole song when it fits one crop."""
    total = frames - frames % 2
    if crop == 0 or total <= crop:
        return [data_mod.Window(file, 0, total)]
    room = total - crop
    starts = [room // 2] if crops == 1 else [round(k * room / (crops - 1)) for k in range(crops)]
    return [data_mod.Window(file, min(s - s % 2, room - room % 2), crop) for s in dict.fromkeys(starts)]


def make_probes(folder, held_out: tuple[str, ...], crop: int, settings, flow) -> list[Probe]:
    times = fixed_timesteps(flow, settings.timesteps)
    return [Probe(window, t) for file in sorted(held_out)
            for window in fixed_windows(folder.frames[file], crop, settings.crops, file) for t in times]


@contextmanager
def evaluating(module: torch.nn.Module, device: torch.device):
    """Eval mode, no grad, and the global RNG of this device forked (restored on exit)."""
    modes = {name: m.training for name, m in module.named_modules()}
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        module.eval()
        try:
            yield
        finally:
            for name, m in module.named_modules():
                m.training = modes[name]


class Validator:
    """Evaluates the live model on the fixed probes; ``forward(**inputs)`` is the model's forward."""

    def __init__(self, folder, held_out: tuple[str, ...], settings, flow, crop: int, cross_mask, device, dtype):
        self.settings, self.flow, self.cross_mask = settings, flow, cross_mask
        self.device, self.dtype = device, dtype
        self.probes = make_probes(folder, held_out, crop, settings, flow)
        windows = dict.fromkeys(p.window for p in self.probes)  # each fixed crop read once, kept on the CPU
        self.batches = {window: data_mod.collate(folder, [window]) for window in windows}
        self.base_loss: float | None = None
        self.history: list[Result] = []

    def due(self, step: int) -> bool:
        return step % self.settings.every_steps == 0

    def evaluate(self, forward, module: torch.nn.Module, adapter_off) -> Result:
        """The adapter's loss (and, once, the base's) on the probes; ``adapter_off()`` disables the adapter."""
        started = time.perf_counter()
        passes = len(self.probes)
        with evaluating(module, self.device):
            loss = self.mean_loss(forward)
            if self.base_loss is None:
                with adapter_off():
                    self.base_loss = self.mean_loss(forward)
                passes *= 2
        result = Result(loss, self.base_loss, time.perf_counter() - started, passes)
        self.history.append(result)
        return result

    def mean_loss(self, forward) -> float:
        generator = torch.Generator().manual_seed(self.settings.seed)
        total = 0.0
        moved = {window: batch.to(self.device, self.dtype) for window, batch in self.batches.items()}  # once each
        for probe in self.probes:
            batch = moved[probe.window]
            x0 = batch.target_latents
            noise = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
            t = torch.tensor([probe.t])
            tt = t.to(x0.device, x0.dtype)
            noisy = tt[:, None, None] * noise + (1 - tt[:, None, None]) * x0
            with self.cross_mask.active(batch.encoder_mask):
                prediction = forward(hidden_states=noisy, timestep=tt, timestep_r=tt,
                                     encoder_hidden_states=batch.encoder_hidden_states,
                                     context_latents=batch.context_latents)
            weights = snr_weights(t, self.flow.min_snr_gamma).to(x0.device)
            total += float(masked_loss(prediction, noise - x0, batch.frame_mask, weights))
        return total / len(self.probes)

    def summary(self, step_seconds: float | None) -> dict:
        """For the run's ``finished`` event and status: evaluations, losses and the cost."""
        if not self.history:
            return {"evaluations": 0}
        seconds = statistics.fmean(r.seconds for r in self.history[1:] or self.history)
        return {"evaluations": len(self.history), "last_loss": self.history[-1].loss,
                "best_loss": min(r.loss for r in self.history), "base_loss": self.base_loss,
                "probes": len(self.probes), "seconds": round(seconds, 4),
                **cost(seconds, step_seconds, self.settings.every_steps)}


def cost(seconds: float, step_seconds: float | None, every_steps: int) -> dict:
    """An evaluation's time as a fraction of one training step, and of the training time between two."""
    if not step_seconds:
        return {}
    fraction = seconds / step_seconds
    return {"fraction_of_step": round(fraction, 4), "overhead": round(fraction / every_steps, 4)}
