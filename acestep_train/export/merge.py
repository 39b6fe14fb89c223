"""Merge an adapter into the base weights and write a full model in the original layout.

Streams tensor by tensor (``streaming.py``): the source ``model.safetensors`` is memory-
mapped, each adapted weight gets ``strength * delta`` added in fp32 and is cast back to its
dtype, and each tensor is written as soon as it is produced. Peak memory is about one
tensor plus the adapter, so the full-size model merges on a 16 GB machine. The deltas
are computed from the adapter tensors (``adapter_state.py``), never by LyCORIS's
``merge_to``; a DoRA's from each base weight as it streams past (``dora.py``). Every merged weight is read back and checked against base + delta.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from acestep_train.atomic import atomic_write_json
from acestep_train.export.adapter_state import Adapter
from acestep_train.export.output_folder import OutputPlan, check_output, studio_output
from acestep_train.export.model_check import WrongBaseError, check_shapes  # noqa: F401 (WrongBaseError: public here)
from acestep_train.models.discovery import ModelInfo, read_json


def merge_identity(adapter: Adapter, info: ModelInfo, strength: float) -> dict:
    """What a merge folder's manifest records: the same adapter, base and strength may be merged there again."""
    return {"adapter": adapter.digest(), "base": info.name, "strength": strength,
            "description": f"{adapter.description()} merged into {info.name} at strength {strength}"}


def merge_into_original(info: ModelInfo, adapter: Adapter, strength: float, output_dir: Path,
                        overwrite: bool = False, plan: OutputPlan | None = None) -> Path:
    """Write ``output_dir/{config.json, model.safetensors, silence_latent.pt, merge_info.json}``.

    ``overwrite``: replace an earlier merge of something else there, moving aside files the studio did not
    write (``output_folder``); ``plan``: that check already made by the caller (to report what it moved)."""
    from acestep_train.models.safetensors_file import read_header

    if info.layout != "original":
        raise ValueError(f"{info.path}: merging writes the original layout from an original-layout model")
    weights = info.files.transformer_weights
    header = read_header(weights)
    targets = check_shapes(adapter, info)
    plan = plan or check_output(Path(output_dir), merge_identity(adapter, info, strength), overwrite, "merged model")
    with studio_output(plan) as folder:  # the merged model appears whole, or not at all
        _write_merged(info, adapter, strength, folder, targets, header)
        verify_merge(weights, folder / "model.safetensors", adapter, targets, strength)
    return Path(output_dir)


def _write_merged(info: ModelInfo, adapter: Adapter, strength: float, output_dir: Path, targets: dict,
                  header: dict) -> None:
    from safetensors import safe_open

    from acestep_train.export.streaming import stream_safetensors

    weights = info.files.transformer_weights
    layout = []
    with safe_open(str(weights), framework="pt", device="cpu") as source:
        for key in source.keys():
            layout.append((key, source.get_slice(key).get_dtype(), tuple(header[key].shape)))

        def produce(key: str) -> torch.Tensor:
            tensor = source.get_tensor(key)
            if key in targets:
                delta = adapter.module_delta(targets[key], tensor)
                tensor = (tensor.float() + strength * delta).to(tensor.dtype)
            return tensor

        stream_safetensors(output_dir / "model.safetensors", [(k, _dtype(d), s) for k, d, s in layout], produce)
    config = read_json(info.files.transformer_config)
    config.setdefault("model_version", info.variant.family)
    atomic_write_json(output_dir / "config.json", config)
    shutil.copy2(info.files.silence_latent, output_dir / "silence_latent.pt")
    atomic_write_json(output_dir / "merge_info.json", {
        "base_model": info.name, "variant": info.variant.name, "strength": strength,
        "adapter": adapter.metadata, "merged_modules": len(targets)})


_SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
                       "I64": torch.int64, "I32": torch.int32, "I8": torch.int8, "U8": torch.uint8,
                       "BOOL": torch.bool}


def _dtype(name: str) -> torch.dtype:
    return _SAFETENSORS_DTYPES[name]


def verify_merge(source: Path, merged: Path, adapter: Adapter, targets: dict[str, str], strength: float) -> None:
    """Read every merged weight back; it must equal base + delta (to the dtype's rounding)."""
    from safetensors import safe_open

    with safe_open(str(source), framework="pt") as base, safe_open(str(merged), framework="pt") as out:
        if set(base.keys()) != set(out.keys()):
            raise RuntimeError(f"{merged}: written keys differ from {source}")
        for key, module in targets.items():
            original = base.get_tensor(key)
            expected = (original.float() + strength * adapter.module_delta(module, original)).to(original.dtype)
            if not torch.equal(out.get_tensor(key), expected):
                raise RuntimeError(f"{merged}: {key} does not hold base + delta after writing")
