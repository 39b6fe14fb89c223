"""Export an adapter for a consumer and prove the written file holds the trained delta.

Formats: ``acestep`` (ACE-Step's own UI), ``comfyui``, ``diffusers``. For LoRA the three
share one file layout (see ``writers.py``); for DoRA, ACE-Step and diffusers
load one PEFT DoRA file and ComfyUI its own, computed on the base model (``dora.py``); for LoKr, ACE-Step and ComfyUI read the LyCORIS
file and diffusers its own form (``pipe.transformer.load_lora_adapter``), or, with
``lokr_as_lora``, the exact LoRA form of the LoKr (``lokr_to_lora.py``) in the LoRA layout, which
``pipe.load_lora_weights`` (and the other two) load. Every written file is read back and its deltas compared
with the source adapter's; a mismatch is an error, never a silent success. The consumer
loaders themselves are exercised by the test suite.
"""

from __future__ import annotations

from pathlib import Path

import torch

from acestep_train.export.adapter_state import Adapter
from acestep_train.export.dora import base_weights, comfyui_applied, write_dora, write_dora_comfyui
from acestep_train.export.load import load_adapter
from acestep_train.export.loha import write_loha_lycoris
from acestep_train.export.loha_to_lora import DEFAULT_MAX_RANK as LOHA_MAX_RANK
from acestep_train.export.loha_to_lora import check_rank as check_loha_rank, loha_as_lora
from acestep_train.export.lokr_to_lora import DEFAULT_MAX_RANK, lokr_as_lora
from acestep_train.export.model_check import check_shapes
from acestep_train.export.output_folder import OutputPlan, check_output, studio_output
from acestep_train.export.readers import lokr_from_peft_state
from acestep_train.export.writers import LOKR_DIFFUSERS_FILE, write_lokr_diffusers, write_lokr_lycoris, write_lora
from acestep_train.models.discovery import ModelInfo
from acestep_train.models.safetensors_file import load_tensors

FORMATS = ("acestep", "comfyui", "diffusers")
TOLERANCE = 1e-5
COMFYUI_DORA_NEEDS_BASE = (
    "ComfyUI reads a DoRA's magnitude as dora_scale and divides it by the norm of the base weight, not of the "
    "adapted one, so the exact ComfyUI file is computed from the base model, and none was found: pass "
    "--checkpoint-dir (the Export tab looks under the studio's checkpoint folder) holding the model the adapter "
    "names, or export --format acestep/diffusers, or merge it into the model")


def export_identity(adapter: Adapter) -> dict:
    """What an export folder's manifest records: the same adapter may be exported there again (any format)."""
    return {"adapter": adapter.digest(), "description": adapter.description()}


def check_format(adapter: Adapter, fmt: str, lokr_to_lora: bool = False, model: ModelInfo | None = None,
                 max_lora_rank: int | None = None) -> None:
    """The refusals that need no file, so a caller writing several formats can make them all first."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    if lokr_to_lora and adapter.kind != "lokr":
        raise ValueError(f"--lokr-as-lora converts a LoKr adapter; this one is {adapter.kind}")
    if adapter.kind == "dora" and fmt == "comfyui" and model is None:
        raise ValueError(COMFYUI_DORA_NEEDS_BASE)
    if adapter.kind == "loha" and fmt != "comfyui":  # only ComfyUI loads a LoHA: the others get its exact LoRA
        check_loha_rank(adapter, max_lora_rank or LOHA_MAX_RANK)


def export_adapter(adapter: Adapter, fmt: str, output: Path, lokr_to_lora: bool = False,
                   max_lora_rank: int | None = None, overwrite: bool = False, model: ModelInfo | None = None,
                   plan: OutputPlan | None = None) -> Path:
    """Write ``adapter`` for ``fmt`` into the folder ``output``; returns the weights file.

    ``lokr_to_lora``: write a LoKr as its exact LoRA (refused past ``max_lora_rank``, default 128). A LoHA is
    written natively for ComfyUI and as its exact LoRA for ACE-Step and diffusers, which cannot load LoHA
    (``max_lora_rank`` default 256). ``model``: refuse an
    adapter that does not fit its shapes. ``overwrite``: replace an earlier export of another adapter or files
    the studio did not write (moved aside; see ``output_folder``); ``plan``: that check made by the caller.
    All checks run before anything is written."""
    check_format(adapter, fmt, lokr_to_lora, model, max_lora_rank)
    base = None
    if adapter.kind == "dora" and fmt == "comfyui":  # check_format: model is given
        base = base_weights(adapter, model)  # its shapes checked; read once, to write and to verify the file
    elif model is not None:
        check_shapes(adapter, model)
    plan = plan or check_output(Path(output), export_identity(adapter), overwrite)
    with studio_output(plan) as folder:  # the folder appears whole, or not at all
        if base is not None:
            written = write_dora_comfyui(adapter, folder, base, model.name)
        elif adapter.kind == "dora":
            written = write_dora(adapter, folder)
        elif adapter.kind == "lora":
            written = write_lora(adapter, folder)
        elif adapter.kind == "loha":
            written = write_loha_lycoris(adapter, folder) if fmt == "comfyui" else \
                write_lora(loha_as_lora(adapter, max_lora_rank or LOHA_MAX_RANK), folder)
        elif lokr_to_lora:
            written = write_lora(lokr_as_lora(adapter, max_lora_rank or DEFAULT_MAX_RANK), folder)
        elif fmt == "diffusers":
            written = write_lokr_diffusers(adapter, folder)
        else:
            written = write_lokr_lycoris(adapter, folder)
        if base is not None:
            verify_comfyui_dora(adapter, written, base)
        else:
            verify_written(adapter, written)
    return Path(output) / written.name


def verify_comfyui_dora(adapter: Adapter, path: Path, base: dict[str, torch.Tensor]) -> float:
    """ComfyUI's DoRA rule applied to the written file equals the adapter on ``base`` (module -> base weight)."""
    written, source = comfyui_applied(load_tensors(path), base), adapter.deltas(base=base)
    return _compare(path, written, source)


def read_written(path: Path) -> Adapter:
    """A file ``export_adapter`` wrote, read back: the diffusers LoKr by its own reader, the rest as any adapter."""
    if path.name == LOKR_DIFFUSERS_FILE:
        return lokr_from_peft_state(load_tensors(path))
    return load_adapter(path)


def verify_written(adapter: Adapter, path: Path) -> float:
    """Max |delta difference| between the file and the adapter; raises past the tolerance."""
    return _compare(path, read_written(path).comparable(), adapter.comparable())


def _compare(path: Path, written: dict, source: dict) -> float:
    if written.keys() != source.keys():
        missing = sorted(set(source) - set(written))[:3]
        raise RuntimeError(f"{path}: written modules differ from the adapter's (e.g. missing {missing})")
    error = max((written[k] - source[k]).abs().max().item() for k in source)
    scale = max(d.abs().max().item() for d in source.values()) or 1.0
    if error > TOLERANCE * max(1.0, scale):
        raise RuntimeError(f"{path}: read back, its deltas differ from the adapter's by {error:.3g}")
    return error
