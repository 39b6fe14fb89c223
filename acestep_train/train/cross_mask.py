"""Give cross-attention the encoder padding mask that ``AceStepTransformer1DModel`` does not pass.

The DiT's forward calls every block with ``encoder_attention_mask=None``, so in a batch of
captions of different lengths the shorter ones' zero padding would take attention weight.
We wrap each cross-attention processor: while ``CrossAttentionMask.active(mask)`` is set,
cross-attention receives the [B, 1, 1, L] keep-mask. With no padding (batch of 1, as at
inference) nothing changes.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


class _MaskedProcessor:
    def __init__(self, inner, holder: "CrossAttentionMask"):
        self.inner, self.holder = inner, holder

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **kwargs):
        if encoder_hidden_states is not None and self.holder.mask is not None:
            attention_mask = self.holder.mask
        return self.inner(attn, hidden_states, encoder_hidden_states=encoder_hidden_states,
                          attention_mask=attention_mask, **kwargs)


class CrossAttentionMask:
    def __init__(self, transformer: torch.nn.Module):
        self.mask: torch.Tensor | None = None
        for name, module in transformer.named_modules():
            if name.endswith("cross_attn") and hasattr(module, "processor"):
                module.set_processor(_MaskedProcessor(module.processor, self))

    @contextmanager
    def active(self, encoder_mask: torch.Tensor):
        """``encoder_mask`` [B, L], 1 = real token; None is used when nothing is padded."""
        keep = encoder_mask.bool()
        self.mask = None if bool(keep.all()) else keep[:, None, None, :]
        try:
            yield
        finally:
            self.mask = None
