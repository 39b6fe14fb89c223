"""Checkpoint discovery, strict loading into diffusers/transformers classes, the tiny demo model."""

from acestep_train.models.components import build_pipeline, choose_device, choose_dtype, load_components
from acestep_train.models.discovery import ModelInfo, discover_models, find_model, select_model
from acestep_train.models.loading import JOB_PARTS, CheckpointMismatchError, Components
from acestep_train.models.safetensors_file import CorruptCheckpointError

__all__ = [
    "JOB_PARTS",
    "CheckpointMismatchError",
    "Components",
    "CorruptCheckpointError",
    "ModelInfo",
    "build_pipeline",
    "choose_device",
    "choose_dtype",
    "discover_models",
    "find_model",
    "load_components",
    "select_model",
]
