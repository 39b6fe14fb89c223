"""ACE-Step 1.5 flow matching: timesteps, noising, the velocity target, the masked loss.

x_t = t * noise + (1 - t) * x0 (t = 0 clean, t = 1 noise); target v = noise - x0; the DiT gets
``timestep = timestep_r = t``. Turbo trains on its 8-step shift-3 table; base/SFT on
t = sigmoid(N(mu, sigma)). min-SNR in velocity form weights each sample by
min(SNR, gamma) / (SNR + 1) with SNR = ((1 - t) / t)^2. The loss is the MSE over real frames
only: padded frames carry no weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TURBO_TABLE = (1.0, 0.954545, 0.9, 0.833333, 0.75, 0.642857, 0.5, 0.3)
DEFAULT_MU, DEFAULT_SIGMA = -0.4, 1.0
BASE_CFG_DROPOUT = 0.15


@dataclass(frozen=True)
class FlowSettings:
    """What ran: resolved from the variant and the user's overrides, recorded in run.json."""

    sampler: str  # table | logit_normal
    mu: float
    sigma: float
    cfg_dropout: float
    min_snr_gamma: float


def resolve(timesteps, is_turbo: bool, model_config: dict) -> FlowSettings:
    sampler = timesteps.sampler or ("table" if is_turbo else "logit_normal")
    mu = timesteps.mu if timesteps.mu is not None else float(model_config.get("timestep_mu", DEFAULT_MU))
    sigma = timesteps.sigma if timesteps.sigma is not None else float(model_config.get("timestep_sigma",
                                                                                         DEFAULT_SIGMA))
    dropout = timesteps.cfg_dropout if timesteps.cfg_dropout is not None else (0.0 if is_turbo else BASE_CFG_DROPOUT)
    return FlowSettings(sampler, mu, sigma, dropout, timesteps.min_snr_gamma)


def sample_timesteps(settings: FlowSettings, batch: int, generator: torch.Generator) -> torch.Tensor:
    if settings.sampler == "table":
        table = torch.tensor(TURBO_TABLE)
        return table[torch.randint(len(TURBO_TABLE), (batch,), generator=generator)]
    return torch.sigmoid(settings.mu + settings.sigma * torch.randn(batch, generator=generator))


def snr_weights(t: torch.Tensor, gamma: float) -> torch.Tensor:
    if gamma <= 0:
        return torch.ones_like(t)
    snr = ((1 - t) / t.clamp_min(1e-6)) ** 2
    return torch.clamp(snr, max=gamma) / (snr + 1)


def masked_loss(prediction: torch.Tensor, target: torch.Tensor, frame_mask: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
    """Mean squared error over real frames, per-sample weighted, averaged over the batch."""
    error = ((prediction.float() - target.float()) ** 2).mean(dim=-1)  # [B, T]
    per_sample = (error * frame_mask).sum(dim=1) / frame_mask.sum(dim=1).clamp_min(1)
    return (per_sample * weights).mean()
