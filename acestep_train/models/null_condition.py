"""Read ``null_condition_emb`` (CFG dropout's unconditional input) without building the encoder."""

from __future__ import annotations

import torch

from acestep_train.models.discovery import ModelInfo


def load_null_condition(info: ModelInfo) -> torch.Tensor:
    """[1, 1, D]; the key is ``null_condition_emb`` in both layouts' condition-encoder weights."""
    from safetensors import safe_open

    from acestep_train.models.safetensors_file import read_header

    path = info.files.condition_weights
    if "null_condition_emb" not in read_header(path):
        raise ValueError(f"{path}: has no null_condition_emb; CFG dropout needs it (a base/SFT checkpoint has it)")
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        return handle.get_tensor("null_condition_emb").float()
