"""Audio previews: the pipeline's output with an adapter applied at chosen strengths.

The adapter's weight deltas (``export.adapter_state``) are added to the transformer's
linear weights at strength ``s`` and removed afterwards, exactly what a LoRA or LoKr at
scale ``s`` computes (a DoRA's change is computed on the model's own weights; strength ``s`` is
``W + s (W_dora - W)``, as ComfyUI applies it), for any adapter type and without a second copy of the DiT. Used
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
PLAYBACK_KEYS = ("variant", "steps", "shift", "guidance_scale")  # an adapter's metadata["inference"]


def playback_settings(variant: str | None, steps: int | None = None) -> dict | None:
    """The inference settings previews use for ``variant`` ("turbo", "xl-base"...; ``steps``: a run's preview
    steps, None for the variant's): what an adapter records so that it is played back as its previews were
    heard. None for a variant nothing tells (previews cannot run either)."""
    family = (variant or "").removeprefix("xl-")
    if family not in INFERENCE_DEFAULTS:
        return None
    default_steps, shift, guidance = INFERENCE_DEFAULTS[family]
    return {"variant": variant, "steps": int(steps or default_steps), "shift": shift, "guidance_scale": guidance}


def playback_words(metadata: dict) -> str:
    """"Play back with: turbo, 8 steps, shift 3, guidance 1" from an adapter's metadata; for an adapter that
    recorded none (an older run, another tool's file), its variant's defaults, said so."""
    recorded = metadata.get("inference")
    known = isinstance(recorded, dict) and all(key in recorded for key in PLAYBACK_KEYS)
    settings = recorded if known else playback_settings(metadata.get("variant"))
    if settings is None:
        return ("Play back with: not recorded, and the adapter names no model variant; use the steps, shift and "
                "guidance of the model it was trained on.")
    words = (f"Play back with: {settings['variant']}, {settings['steps']} steps, shift {settings['shift']:g}, "
             f"guidance {settings['guidance_scale']:g}")
    return words if known else words + " (the variant's defaults: this adapter does not record its previews' settings)"


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


def _adapted_modules(transformer: torch.nn.Module, names) -> dict[str, torch.nn.Module]:
    """The transformer's modules by name; an adapter naming one it lacks is for another base model."""
    modules = dict(transformer.named_modules())
    missing = [name for name in names if name not in modules]
    if missing:
        raise ValueError(f"adapter modules not in this model: {missing[:3]} (wrong base model?)")
    return modules


@contextmanager
@torch.no_grad()
def adapter_applied(transformer: torch.nn.Module, deltas: dict[str, torch.Tensor], scale: float):
    """Add ``scale * delta`` to each named linear weight for the duration of the block.

    An int8 base weight (``loop.base_weights = "int8"``) cannot take a float delta: that module gets
    ``scale * delta @ x`` added to its output instead, which is the same linear map.
    """
    modules = _adapted_modules(transformer, deltas)
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


def deltas_on(transformer: torch.nn.Module, adapter) -> dict[str, torch.Tensor]:
    """An ``export.adapter_state.Adapter``'s deltas on this transformer's weights (a DoRA's depend on them)."""
    modules = _adapted_modules(transformer, adapter.modules)
    return adapter.deltas(base={name: modules[name].weight.detach() for name in adapter.modules})


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
