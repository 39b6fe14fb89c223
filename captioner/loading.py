"""Loading local transformers models: device, dtype, bitsandbytes 8-/4-bit, and freeing them again.

Quantized weights are placed by ``device_map`` at load time (bitsandbytes quantizes while
loading); unquantized ones load in bf16 on a GPU (fp32 on a CPU) and move there. ``free`` drops
the references' memory and empties the CUDA cache, so the two-pass workflow (caption all,
unload, transcribe all) fits one small GPU.
"""

from __future__ import annotations

import gc
from pathlib import Path

QUANTIZE = ("8bit", "4bit")


def pick_device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def check_quantize(quantize: str | None) -> str | None:
    if quantize not in (None, *QUANTIZE):
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE)} or none, not {quantize!r}")
    return quantize


def quantization_config(quantize: str | None, device: str):
    """A ``BitsAndBytesConfig`` for "8bit" / "4bit" (nf4, bf16 compute on a GPU), or None."""
    if check_quantize(quantize) is None:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)


def from_pretrained(model_class, folder: Path, device: str, quantize: str | None, gpu_dtype: str = "bfloat16"):
    """``model_class.from_pretrained(folder)`` on ``device``, quantized on request, in eval mode."""
    import torch

    config = quantization_config(quantize, device)
    dtype = getattr(torch, gpu_dtype) if device.startswith("cuda") else torch.float32
    kwargs = {"dtype": dtype, "trust_remote_code": False}
    if config is not None:
        kwargs["quantization_config"] = config
        if device.startswith("cuda"):
            kwargs["device_map"] = {"": device}
    model = model_class.from_pretrained(folder, **kwargs)
    if config is None:
        model = model.to(device)
    return model.eval()


def require_model_folder(folder: str | Path, what: str) -> Path:
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: no model here (config.json is missing); {what}")
    return folder


def free() -> None:
    """Return freed model memory to the system and the GPU."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
