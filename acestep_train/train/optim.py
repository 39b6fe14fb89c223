"""Optimizers, learning-rate schedules, and the exact number of optimizer steps.

Steps per epoch = ceil(micro-batches / grad_accum): a partial accumulation group at the end
of an epoch is one step (its loss averaged over the micro-batches it has), consistently in
the step count, the schedule and the loop. The schedule spans exactly the total, so a cosine
ends at 0 on the last step and never runs past it.
"""

from __future__ import annotations

import math

import torch


def steps_per_epoch(windows: int, batch_size: int, grad_accum: int, world_size: int = 1) -> int:
    micro_batches = math.ceil(math.ceil(windows / batch_size) / world_size)
    return math.ceil(micro_batches / grad_accum)


def make_optimizer(config, params: list[torch.nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay,
                                 fused=device.type == "cuda")
    if config.name == "adamw8bit":
        try:
            import bitsandbytes
        except ImportError as error:
            raise RuntimeError("optim.name=adamw8bit needs bitsandbytes, which is not importable here; "
                               "install it or choose adamw") from error
        return bitsandbytes.optim.AdamW8bit(params, lr=config.lr, betas=tuple(config.betas),
                                            weight_decay=config.weight_decay)
    if config.name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=config.lr, relative_step=False, scale_parameter=False, warmup_init=False,
                         weight_decay=config.weight_decay)
    from prodigyopt import Prodigy

    # Prodigy estimates the step size itself; ``lr`` is a multiplier on that estimate (1.0 normally).
    return Prodigy(params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay,
                   safeguard_warmup=True, use_bias_correction=True)


def make_schedule(config, optimizer: torch.optim.Optimizer, total_steps: int):
    from transformers import get_scheduler

    kwargs = {"num_cycles": config.cycles} if config.name == "cosine_with_restarts" else {}
    return get_scheduler(config.name, optimizer, num_warmup_steps=min(config.warmup_steps, total_steps),
                         num_training_steps=total_steps, scheduler_specific_kwargs=kwargs)
