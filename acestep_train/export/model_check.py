"""Does an adapter fit a model? Checked from the model's safetensors header, before anything is written.

Each adapted module must exist in the model's DiT with the weight shape the adapter changes; an
adapter trained on another model size is refused naming both sizes. ``model_for_adapter`` finds the
model an adapter names: the ``base_model`` in its metadata under the given checkpoint folders, else
the model its run recorded in ``run.json`` (beside ``final/``, ``best/`` or ``checkpoints/<step>/``).
"""

from __future__ import annotations

import json
from pathlib import Path

from acestep_train.export.adapter_state import Adapter
from acestep_train.export.names import checkpoint_weight_key
from acestep_train.models.discovery import ModelInfo, read_json


class WrongBaseError(ValueError):
    """The adapter was not trained on this model: its modules or shapes do not fit."""


def weight_key(info: ModelInfo, module: str) -> str:
    """The key of a DiT module's weight in this model's transformer file."""
    return checkpoint_weight_key(module) if info.layout == "original" else f"{module}.weight"


def _hidden_size(info: ModelInfo) -> str:
    try:
        return str(read_json(info.files.transformer_config).get("hidden_size", "?"))
    except (OSError, ValueError):
        return "?"


def _adapter_size(adapter: Adapter) -> str:
    """The hidden size the adapter was trained at, read off the shape an attention projection's factors change."""
    for name, factors in adapter.modules.items():
        if "attn.to_q" in name or "attn.to_k" in name:
            return str(factors.shape[1])
    return "?"


def check_shapes(adapter: Adapter, info: ModelInfo) -> dict[str, str]:
    """{weight key: module}; ``WrongBaseError`` for a module the model lacks or a shape that differs."""
    from acestep_train.models.safetensors_file import read_header

    weights = info.files.transformer_weights
    header = read_header(weights)
    targets = {}
    for module, factors in adapter.modules.items():
        key = weight_key(info, module)
        if key not in header:
            raise WrongBaseError(f"{weights}: has no weight {key} for adapter module {module}: wrong base model?")
        shape, changed = tuple(header[key].shape), factors.shape
        if shape != changed:
            raise WrongBaseError(
                f"{weights}: {key} is {shape} but the adapter's {module} changes {changed}: the adapter was "
                f"trained on another model (hidden size {_adapter_size(adapter)}; {info.name} has hidden size "
                f"{_hidden_size(info)})")
        targets[key] = module
    return targets


def _run_record(adapter_path: Path) -> dict:
    """``run.json`` of the run an adapter folder belongs to, or {}."""
    folder = adapter_path if adapter_path.is_dir() else adapter_path.parent
    for parent in (folder.parent, folder.parent.parent):
        try:
            return json.loads((parent / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return {}


def model_for_adapter(adapter: Adapter, adapter_path: Path, checkpoint_dirs: list[str] | None,
                      choice: str | None = None, required: bool = True) -> ModelInfo | None:
    """The model to check ``adapter`` against: ``choice`` or the base model its metadata names, under
    ``checkpoint_dirs``; else the model its run recorded in ``run.json``; None when neither is found.

    ``required``: the folders were named by the user, so a model not found there is an error (not a fallback)."""
    from acestep_train.models import find_model

    named = choice or adapter.metadata.get("base_model")
    if checkpoint_dirs and required and not named:
        raise ValueError(f"{adapter_path}: its metadata names no base model; name it with --model-variant")
    if checkpoint_dirs and named:
        try:
            return find_model(checkpoint_dirs, named)
        except (FileNotFoundError, ValueError):
            if required:
                raise
    recorded = _run_record(adapter_path).get("model", {}).get("path")
    if recorded and Path(recorded).is_dir():
        return find_model([Path(recorded).parent], Path(recorded).name)
    return None
