"""Gradient sensitivity: which DiT layers the user's songs pull on hardest.

For every candidate linear (attention and MLP projections of every block) we accumulate the
diagonal Fisher information of its frozen base weight under the training loss, mean(grad^2),
over N batches at several timestep focuses (noisy, middle, clean). Gradients are read as
each one is accumulated and dropped at once, so memory stays near inference. The result
ranks modules; ``to_training`` turns it into adapter targets and per-module ranks that
``train --from-estimate`` uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from acestep_train.train.adapters import target_names
from acestep_train.train.flow import masked_loss

FOCUSES = {"noisy": 0.9, "middle": 0.5, "clean": 0.2}


@dataclass(frozen=True)
class EstimateSettings:
    batches: int = 8
    max_latent_length: int = 1500
    top_fraction: float = 0.5  # share of modules to train
    base_rank: int = 16
    seed: int = 0

    def __post_init__(self):
        if self.batches < 1 or not 0 < self.top_fraction <= 1 or self.base_rank < 1:
            raise ValueError("batches and base_rank must be >= 1, top_fraction in (0, 1]")


def fisher_scores(transformer, folder, settings: EstimateSettings) -> dict[str, dict[str, float]]:
    """{module: {focus: mean squared gradient}} over ``settings.batches`` songs per focus."""
    from acestep_train.train.data import collate, windows_for_epoch

    modules = dict(transformer.named_modules())
    names = target_names(transformer, "both", mlp=True)
    sums = {name: {focus: 0.0 for focus in FOCUSES} for name in names}
    current = {"focus": None}
    handles = []
    for name in names:
        weight = modules[name].weight
        weight.requires_grad_(True)

        def take(param, name=name):
            sums[name][current["focus"]] += float(param.grad.float().pow(2).mean())
            param.grad = None

        handles.append(weight.register_post_accumulate_grad_hook(take))
    generator = torch.Generator().manual_seed(settings.seed)
    crop = settings.max_latent_length - settings.max_latent_length % 2
    try:
        for focus, t_value in FOCUSES.items():
            current["focus"] = focus
            for index in range(settings.batches):
                windows = windows_for_epoch(folder.frames, crop, 1, settings.seed, index)
                batch = collate(folder, [windows[index % len(windows)]])
                x0 = batch.target_latents
                noise = torch.randn(x0.shape, generator=generator)
                t = torch.full((1,), t_value)
                prediction = transformer(hidden_states=t * noise + (1 - t) * x0, timestep=t, timestep_r=t,
                                         encoder_hidden_states=batch.encoder_hidden_states,
                                         context_latents=batch.context_latents).sample
                masked_loss(prediction, noise - x0, batch.frame_mask, torch.ones(1)).backward()
    finally:
        for handle in handles:
            handle.remove()
        transformer.requires_grad_(False)
    return {name: {focus: value / settings.batches for focus, value in per.items()} for name, per in sums.items()}


def to_training(scores: dict[str, dict[str, float]], settings: EstimateSettings) -> dict:
    """Rank modules by their mean Fisher score; the top share become targets, ranks scale with score."""
    total = {name: sum(per.values()) / len(per) for name, per in scores.items()}
    ordered = sorted(total, key=total.get, reverse=True)
    keep = ordered[: max(1, math.ceil(len(ordered) * settings.top_fraction))]
    top = total[keep[0]] or 1.0
    ranks = {name: max(4, int(2 ** round(math.log2(settings.base_rank * (0.5 + total[name] / top))))) for name in keep}
    return {
        "modules": [{"name": name, "score": total[name], "by_focus": scores[name]} for name in ordered],
        "targets": keep,
        "rank_pattern": {name: rank for name, rank in ranks.items() if rank != settings.base_rank},
        "base_rank": settings.base_rank,
    }
