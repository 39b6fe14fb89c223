"""Render a listening grid as one job: the model loaded once, adapters swapped and scaled.

For each prompt: the plain base model first (the reference, ``base.wav``), then for each
checkpoint one clip per strength above 0, the adapter's weight deltas added at that strength and
removed after (``previews.adapter_applied``, the same for LoRA and LoKr). Strength 0 is the base
for every checkpoint, so it is rendered once (``base.wav``), never once per checkpoint; a grid of
strength 0 alone is the base only. Every cell records its audio
(relative to the output folder), its distance to the base at the same seed and the run's loss
at that checkpoint; the grid is written to ``grid.json`` (atomically) when all cells exist.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import torch

from acestep_train.atomic import atomic_write_json
from acestep_train.compare.signals import checkpoint_loss, spectral_distance
from acestep_train.compare.spec import GridSpec, resolve_checkpoints
from acestep_train.events import EventLog

GRID_FILE = "grid.json"


def read_audio(path: Path) -> torch.Tensor:
    import soundfile

    data, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(data.T.copy())


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "checkpoint"


def load_pipeline(spec: GridSpec):
    from acestep_train.models import build_pipeline, find_model, load_components
    from acestep_train.models.loading import PARTS

    info = find_model(list(spec.checkpoint_dirs), spec.model_variant, spec.base_model)
    if info.variant.family is None:
        raise ValueError(f"{info.path}: cannot tell turbo/base/sft; give base_model")
    pipe = build_pipeline(load_components(info, PARTS, spec.device))
    pipe.set_progress_bar_config(disable=True)
    return pipe, info.variant.family


def _checkpoints(spec: GridSpec) -> list[dict]:
    """Every chosen checkpoint, its adapter read up front (a bad one fails before the model loads)."""
    from acestep_train.export.load import load_adapter

    run = Path(spec.run)
    chosen = []
    for label, folder in resolve_checkpoints(run, spec.checkpoints):
        adapter = load_adapter(folder)
        chosen.append({"label": label, "path": str(folder), "kind": adapter.kind, "adapter": adapter,
                       **checkpoint_loss(run, folder)})
    return chosen


def render_grid(spec: GridSpec, events: EventLog | None = None, loaded=None) -> Path:
    """Render every cell; returns the path of ``grid.json``. ``loaded``: a (pipe, family) to reuse."""
    from acestep_train.previews import PreviewRequest, deltas_on, render

    out = Path(spec.output)
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = _checkpoints(spec)
    pipe, family = loaded or load_pipeline(spec)
    adapted_too = any(strength != 0 for strength in spec.strengths)
    total, done, start = len(spec.prompts) * (1 + len(checkpoints) * adapted_too), 0, time.monotonic()
    base_files, cells = [], []
    for number, prompt in enumerate(spec.prompts, 1):
        folder = out / f"prompt{number}"
        adapted = tuple(strength for strength in spec.strengths if strength != 0)
        request = PreviewRequest(prompt.song(), spec.seed, adapted, spec.steps)
        base_path = render(pipe, None, request, family, folder).files[0.0]
        base_audio = read_audio(base_path)
        base_files.append(str(base_path.relative_to(out)))
        done = _progress(events, done + 1, total, start)
        for checkpoint in checkpoints if adapted else []:
            result = render(pipe, deltas_on(pipe.transformer, checkpoint["adapter"]), request, family, folder / slug(checkpoint["label"]))
            for strength, path in result.files.items():
                cells.append({"prompt": number - 1, "checkpoint": checkpoint["label"], "strength": strength,
                              "audio": str(path.relative_to(out)), "loss": checkpoint["loss"],
                              "distance": spectral_distance(read_audio(path), base_audio)})
            done = _progress(events, done + 1, total, start)
    grid = {"spec": spec.to_json(), "strengths": list(spec.strengths), "base": base_files, "cells": cells,
            "prompts": [p.caption for p in spec.prompts], "favourite": None,
            "checkpoints": [{k: v for k, v in c.items() if k != "adapter"} for c in checkpoints]}
    atomic_write_json(out / GRID_FILE, grid)
    if events:
        events.emit("finished", grid=str(out / GRID_FILE), cells=len(cells))
    return out / GRID_FILE


def _progress(events: EventLog | None, done: int, total: int, start: float) -> int:
    if events:
        elapsed = time.monotonic() - start
        events.emit("progress", done=done, total=total, stage="renders",
                    eta_s=round(elapsed / done * (total - done), 1))
    return done
