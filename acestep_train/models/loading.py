"""Load each part of an ACE-Step 1.5 model into the diffusers / transformers classes.

Both layouts go through the same functions; the original layout only adds the key map
(``keymap.py``) and the silence latent file. Every load is strict: missing keys,
unexpected keys and shape mismatches are refused with the file named, and the number
of tensors loaded is counted, so a load that loads nothing cannot pass for a success.
Nothing here runs remote code or unpickles anything but a plain tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from acestep_train.models import keymap
from acestep_train.models.discovery import VAE_WEIGHTS, ModelInfo, read_json
from acestep_train.models.safetensors_file import CorruptCheckpointError, load_tensors, read_header

PARTS = ("transformer", "condition_encoder", "vae", "text_encoder", "tokenizer")
#: What each job needs: preprocessing never builds the DiT, training never builds the VAE.
JOB_PARTS = {
    "preprocess": ("condition_encoder", "vae", "text_encoder", "tokenizer"),
    "train": ("transformer",),
    "generate": PARTS,
}


class CheckpointMismatchError(ValueError):
    """Weights that do not fit the model class: missing/unexpected keys or wrong shapes."""


@dataclass
class Components:
    transformer: torch.nn.Module | None = None
    condition_encoder: torch.nn.Module | None = None
    vae: torch.nn.Module | None = None
    text_encoder: torch.nn.Module | None = None
    tokenizer: object | None = None
    loaded_tensors: dict[str, int] = field(default_factory=dict)  # part -> tensors loaded


def _list_keys(keys: set[str], limit: int = 5) -> str:
    shown = sorted(keys)[:limit]
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(shown) + more


def check_state_dict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: Path) -> None:
    """Raise ``CheckpointMismatchError`` naming ``source`` unless keys and shapes match exactly."""
    expected = model.state_dict()
    missing = set(expected) - set(state_dict)
    unexpected = set(state_dict) - set(expected)
    if missing:
        raise CheckpointMismatchError(f"{source}: {len(missing)} missing keys: {_list_keys(missing)}")
    if unexpected:
        raise CheckpointMismatchError(f"{source}: {len(unexpected)} unexpected keys: {_list_keys(unexpected)}")
    wrong = [
        f"{key} {tuple(state_dict[key].shape)} != expected {tuple(value.shape)}"
        for key, value in expected.items()
        if tuple(state_dict[key].shape) != tuple(value.shape)
    ]
    if wrong:
        raise CheckpointMismatchError(f"{source}: shape mismatch: {'; '.join(wrong[:5])}")


def build_model(cls: type, config: dict, state_dict: dict[str, torch.Tensor], source: Path, dtype, device):
    """Instantiate ``cls`` without allocating weights, then assign the checked tensors."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        model = cls.from_config(config)
    check_state_dict(model, state_dict, source)
    model.load_state_dict({k: v.to(dtype) for k, v in state_dict.items()}, strict=True, assign=True)
    # Weights are already in ``dtype``; this also moves the few non-persistent buffers
    # (rotary tables). ``nn.Module.to`` skips ModelMixin's warning about fp32-kept modules,
    # which none of these classes declare.
    return torch.nn.Module.to(model, device=device, dtype=dtype).eval()


def read_original_part(path: Path, part: str) -> dict[str, torch.Tensor]:
    """Read one component's tensors from an original ``model.safetensors``, renamed.

    Tensors of other components are not read. A key that belongs to no ACE-Step part is
    refused: it means this is not an ACE-Step 1.5 checkpoint (or a damaged one).
    """
    from safetensors import SafetensorError, safe_open

    read_header(path)
    state_dict: dict[str, torch.Tensor] = {}
    unexpected: set[str] = set()
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for key in handle.keys():
                mapped = keymap.from_original_key(key)
                if mapped is None:
                    unexpected.add(key)
                elif mapped[0] == part:
                    state_dict[mapped[1]] = handle.get_tensor(key)
    except SafetensorError as error:
        raise CorruptCheckpointError(f"{path}: cannot be read as safetensors ({error})") from error
    if unexpected:
        raise CheckpointMismatchError(
            f"{path}: {len(unexpected)} keys belong to no ACE-Step part: {_list_keys(unexpected)}"
        )
    return state_dict


def load_original_part(info: ModelInfo, part: str, dtype, device) -> tuple[torch.nn.Module, int]:
    from diffusers import AceStepConditionEncoder, AceStepTransformer1DModel

    weights = info.files.transformer_weights
    config = read_json(info.files.transformer_config)
    state_dict = read_original_part(weights, part)
    if part == keymap.TRANSFORMER:
        cls, cfg = AceStepTransformer1DModel, keymap.config_for(AceStepTransformer1DModel, config)
    else:
        state_dict["silence_latent"] = load_silence_latent(info.files.silence_latent)
        cls = AceStepConditionEncoder
        cfg = keymap.encoder_config(config)
    return build_model(cls, cfg, state_dict, weights, dtype, device), len(state_dict)


def load_silence_latent(path: Path | None) -> torch.Tensor:
    """``silence_latent.pt`` is a plain [1, 64, T] tensor; the condition encoder wants [1, T, 64]."""
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"{path}: silence_latent.pt is missing; without it the timbre input is wrong (drone-like audio)"
        )
    try:
        tensor = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a bad pickle; all mean the same here
        raise CorruptCheckpointError(f"{path}: not a plain tensor file ({type(error).__name__}: {error})") from error
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 3:
        raise CorruptCheckpointError(f"{path}: expected one [1, 64, T] tensor, got {type(tensor).__name__}")
    return tensor.transpose(1, 2).contiguous()


def load_diffusers_part(info: ModelInfo, part: str, dtype, device) -> tuple[torch.nn.Module, int]:
    from diffusers import AceStepConditionEncoder, AceStepTransformer1DModel

    files = info.files
    if part == keymap.TRANSFORMER:
        cls, config_path, weights = AceStepTransformer1DModel, files.transformer_config, files.transformer_weights
    else:
        cls, config_path, weights = AceStepConditionEncoder, files.condition_config, files.condition_weights
    state_dict = load_tensors(weights)
    config = keymap.config_for(cls, read_json(config_path))
    return build_model(cls, config, state_dict, weights, dtype, device), len(state_dict)


def load_vae(vae_dir: Path, dtype, device) -> tuple[torch.nn.Module, int]:
    from diffusers import AutoencoderOobleck

    weights = vae_dir / VAE_WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: VAE weights are missing")
    state_dict = load_tensors(weights)
    config = keymap.config_for(AutoencoderOobleck, read_json(vae_dir / "config.json"))
    return build_model(AutoencoderOobleck, config, state_dict, weights, dtype, device), len(state_dict)


def load_text_encoder(path: Path, dtype, device) -> tuple[torch.nn.Module, int]:
    """Qwen3-Embedding through transformers' own classes (never remote code)."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our jobs report their own progress
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: text encoder weights are missing")
    count = len(read_header(weights))
    try:
        model, info = AutoModel.from_pretrained(
            path, dtype=dtype, trust_remote_code=False, output_loading_info=True, use_safetensors=True
        )
    except (OSError, RuntimeError) as error:
        raise CheckpointMismatchError(f"{path}: text encoder does not load ({error})") from error
    problems = {name: keys for name, keys in info.items() if keys and name != "error_msgs"}
    if problems or info.get("error_msgs"):
        detail = "; ".join(f"{name}: {_list_keys(set(map(str, keys)))}" for name, keys in problems.items())
        raise CheckpointMismatchError(f"{weights}: text encoder weights do not fit its config ({detail})")
    return model.to(device).eval(), count


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    if not (path / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"{path / 'tokenizer_config.json'}: tokenizer is missing")
    return AutoTokenizer.from_pretrained(path, trust_remote_code=False)
