"""Conditioning tensors built by ``AceStepPipeline``'s own methods.

``Conditioner`` wraps a pipeline object holding only the parts preprocessing needs (no
DiT): text and lyrics go through ``encode_prompt`` (the pipeline's template and
tokenizer lengths), the condition encoder gets the silence timbre input the pipeline
uses when there is no reference audio, and ``context_latents`` come from the
pipeline's ``prepare_src_latents`` + ``_build_chunk_mask`` for text2music. What the
model is trained on is what users prompt at inference.

The work is split in two stages so the two-pass low-VRAM mode can run them with
different models resident: ``encode_text`` (text encoder) and ``encode_condition``
(condition encoder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from acestep_train.prompts import SongText

TIMBRE_SECONDS = 30  # the pipeline's ``timbre_fix_frame`` window of silence latent


@dataclass
class TextEncoding:
    """Stage-1 output for one song (batch of 1)."""

    text_hidden_states: torch.Tensor  # [1, Lt, Dt]
    text_attention_mask: torch.Tensor  # [1, Lt] bool
    lyric_hidden_states: torch.Tensor  # [1, Ll, Dt]
    lyric_attention_mask: torch.Tensor  # [1, Ll] bool

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in vars(self).items()}

    @classmethod
    def from_dict(cls, tensors: dict[str, torch.Tensor]) -> "TextEncoding":
        return cls(**{key: tensors[key].unsqueeze(0) for key in cls.__dataclass_fields__})


def make_pipeline(components, device: torch.device):
    """An ``AceStepPipeline`` over whatever parts are loaded (the DiT is never needed here)."""
    from diffusers import AceStepPipeline, FlowMatchEulerDiscreteScheduler

    pipe = AceStepPipeline(
        vae=components.vae,
        text_encoder=components.text_encoder,
        tokenizer=components.tokenizer,
        transformer=None,
        condition_encoder=components.condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


class Conditioner:
    def __init__(self, components, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        self.pipe = make_pipeline(components, device)
        self.latents_per_second = self.pipe.latents_per_second  # 25 for ACE-Step 1.5

    @torch.no_grad()
    def encode_text(self, song: SongText) -> TextEncoding:
        kwargs = song.pipeline_kwargs()
        text_hs, text_mask, lyric_hs, lyric_mask = self.pipe.encode_prompt(device=self.device, **kwargs)
        return TextEncoding(text_hs, text_mask, lyric_hs, lyric_mask)

    @torch.no_grad()
    def encode_condition(self, text: TextEncoding) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoder_hidden_states [L, D], encoder_attention_mask [L]) as the pipeline computes them."""
        encoder = self.pipe.condition_encoder
        frames = math.ceil(TIMBRE_SECONDS * self.latents_per_second)
        timbre = encoder.silence_latent[:, :frames, :].to(self.device, self.dtype).contiguous()
        hidden, mask = encoder(
            text_hidden_states=text.text_hidden_states.to(self.device, self.dtype),
            text_attention_mask=text.text_attention_mask.to(self.device),
            lyric_hidden_states=text.lyric_hidden_states.to(self.device, self.dtype),
            lyric_attention_mask=text.lyric_attention_mask.to(self.device),
            refer_audio_acoustic_hidden_states_packed=timbre,
            refer_audio_order_mask=torch.arange(1, device=self.device, dtype=torch.long),
        )
        return hidden[0], mask[0]

    @torch.no_grad()
    def context_latents(self, frames: int) -> torch.Tensor:
        """[T, 2C]: the text2music context (tiled silence latent + chunk mask) for T frames."""
        encoder = self.pipe.condition_encoder
        acoustic_dim = encoder.silence_latent.shape[-1]
        src, length = self.pipe.prepare_src_latents(
            device=self.device, dtype=self.dtype, batch_size=1, latent_length=frames
        )
        mask = self.pipe._build_chunk_mask(
            task_type="text2music", latent_length=length, batch_size=1, device=self.device,
            dtype=self.dtype, acoustic_dim=acoustic_dim, repainting_start=None, repainting_end=None,
            has_src_audio=False,
        )
        return torch.cat([src, mask], dim=-1)[0]
