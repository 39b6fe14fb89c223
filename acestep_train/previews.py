"""Audio previews: the pipeline's output with an adapter applied at chosen strengths.

The adapter's weight deltas (``export.adapter_state``) are added to the transformer's
linear weights at strength ``s`` and removed afterwards, exactly what a LoRA or LoKr at
scale ``s`` computes, for either adapter type and without a second copy of the DiT. Used
by the ``generate`` command and by training's periodic / on-demand previews.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from acestep_train.prompts import SongText

#: (steps, shift, guidance) per variant family. Turbo has guidance distilled in (no CFG).
INFERENCE_DEFAULTS = {"turbo": (8, 3.0, 1.0), "base": (50, 1.0, 7.0), "sft": (32, 1.0, 7.0)}


@dataclass(frozen=True)
class PreviewRequest:
    song: SongText
    seed: int = 42
    scales: tuple[float, ...] = (0.5, 1.0, 1.5)
    steps: int | None = None  # None: the variant's default
    shift: float | None = None
    guidance: float | None = None

    def resolved(self, family: str) -> "PreviewRequest":
        steps, shift, guidance = INFERENCE_DEFAULTS[family]
        return replace(self, steps=self.steps or steps, shift=self.shift if self.shift is not None else shift,
                       guidance=self.guidance if self.guidance is not None else guidance)


@dataclass
class PreviewResult:
    files: dict[float, Path] = field(default_factory=dict)  # scale -> wav


@contextmanager
@torch.no_grad()
def adapter_applied(transformer: torch.nn.Module, deltas: dict[str, torch.Tensor], scale: float):
    """Add ``scale * delta`` to each named linear weight for the duration of the block.

    An int8 base weight (``loop.base_weights = "int8"``) cannot take a float delta: that module gets
    ``scale * delta @ x`` added to its output instead, which is the same linear map.
    """
    modules = dict(transformer.named_modules())
    missing = [name for name in deltas if name not in modules]
    if missing:
        raise ValueError(f"adapter modules not in this model: {missing[:3]} (wrong base model?)")
    saved, hooks = {}, []
    try:
        for name, delta in deltas.items():
            weight = modules[name].weight
            if not weight.dtype.is_floating_point:
                hooks.append(modules[name].register_forward_hook(_output_delta((scale * delta).to(weight.device))))
                continue
            saved[name] = weight.detach().clone()
            weight.add_((scale * delta).to(weight.device, weight.dtype))
        yield
    finally:
        for name, original in saved.items():
            modules[name].weight.copy_(original)
        for hook in hooks:
            hook.remove()


def _output_delta(delta: torch.Tensor):
    def hook(module, args, output):
        return output + torch.nn.functional.linear(args[0].to(delta.dtype), delta).to(output.dtype)
    return hook


def write_wav(path: Path, audio: torch.Tensor, sample_rate: int) -> None:
    import soundfile

    from acestep_train.atomic import atomic_path

    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), audio.float().cpu().numpy().T, sample_rate, format="WAV", subtype="FLOAT")


def render(pipe, deltas: dict[str, torch.Tensor] | None, request: PreviewRequest, family: str,
           out_dir: Path) -> PreviewResult:
    """One WAV per scale (``scale_<s>.wav``); without an adapter, one ``base.wav``."""
    request = request.resolved(family)
    result = PreviewResult()
    scales = request.scales if deltas else (0.0,)
    for scale in scales:
        with adapter_applied(pipe.transformer, deltas or {}, scale):
            audio = pipe(
                **request.song.pipeline_kwargs(),
                num_inference_steps=request.steps,
                shift=request.shift,
                guidance_scale=request.guidance,
                generator=torch.Generator().manual_seed(request.seed),
            ).audios[0]
        path = out_dir / (f"scale_{scale:g}.wav" if deltas else "base.wav")
        write_wav(path, audio, pipe.sample_rate)
        result.files[scale] = path
    return result
