"""Checkpoint discovery, strict loading into diffusers/transformers classes, the tiny demo model.

The names below are imported on first use (PEP 562): the UI imports ``models.discovery`` to list
checkpoints, and importing this package must not pull torch and diffusers into a process that only
wants to answer its first page quickly.
"""

from importlib import import_module

_WHERE = {
    "build_pipeline": "components", "choose_device": "components", "choose_dtype": "components",
    "load_components": "components",
    "ModelInfo": "discovery", "discover_models": "discovery", "find_model": "discovery", "select_model": "discovery",
    "model_size": "discovery",
    "JOB_PARTS": "loading", "CheckpointMismatchError": "loading", "Components": "loading",
    "CorruptCheckpointError": "safetensors_file",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
