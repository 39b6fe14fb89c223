"""Open any adapter a user points at: our run checkpoints and exports, or other tools' files.

- a PEFT folder (``adapter_config.json`` + ``adapter_model.safetensors``), our own or another
  ACE-Step trainer's (original ``q_proj`` names or diffusers ``to_q`` names);
- a PEFT DoRA folder (the same, ``use_dora`` and ``lora_magnitude_vector`` keys);
- a LyCORIS LoKr folder or file (``lokr_weights.safetensors``; config from ``lokr_config.json`` or
  the file's ``lokr_config`` metadata);
- a LyCORIS LoHA folder or file (``loha_weights.safetensors``; config from ``loha_config.json`` or the
  file's ``loha_config`` metadata);
- a single ``.safetensors`` file of any of these kinds (told apart by its keys).
"""

from __future__ import annotations

import json
from pathlib import Path

from acestep_train.export.adapter_state import Adapter
from acestep_train.export.dora import MAGNITUDE, dora_from_state
from acestep_train.export.readers import lokr_from_state, lora_from_state
from acestep_train.export.writers import LOHA_FILE, LOKR_FILE, LORA_FILE, METADATA_KEY
from acestep_train.models.safetensors_file import load_tensors, read_metadata


def _json_file(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _from_file(weights: Path, config: dict) -> Adapter:
    state = load_tensors(weights)
    if not state:
        raise ValueError(f"{weights}: holds no tensors")
    metadata = read_metadata(weights)
    if any(key.endswith(".dora_scale") for key in state):  # first: a weight-decomposed LoKr/LoHA has them too
        raise ValueError(f"{weights}: a ComfyUI/LyCORIS DoRA (dora_scale keys, on LoRA, LoKr or LoHA) is read only "
                         "by ComfyUI; its magnitude is tied to the base model it was written for, and read without "
                         "it the adapter would sound different. Open the PEFT DoRA folder instead")
    if any(".hada_" in key for key in state):
        from acestep_train.export.loha import loha_from_state

        adapter = loha_from_state(state, config or json.loads(metadata.get("loha_config", "{}")))
    elif any(".lokr_" in key for key in state):
        lokr_config = config or json.loads(metadata.get("lokr_config", "{}"))
        adapter = lokr_from_state(state, lokr_config)
    elif any(key.endswith("." + MAGNITUDE) for key in state):
        adapter = dora_from_state(state, config)
    elif any("lora_" in key for key in state):
        adapter = lora_from_state(state, config)
    else:
        raise ValueError(f"{weights}: neither LoRA (lora_A/lora_B), LoKr (lokr_w1/w2) nor LoHA (hada_w1_a...) keys")
    if METADATA_KEY in metadata:
        adapter.metadata = json.loads(metadata[METADATA_KEY])
    return adapter


def _weights(path: Path) -> tuple[Path, dict]:
    """The weights file of an adapter folder and its config file's contents."""
    if (path / LORA_FILE).is_file():
        return path / LORA_FILE, _json_file(path / "adapter_config.json")
    if (path / LOKR_FILE).is_file():
        return path / LOKR_FILE, _json_file(path / "lokr_config.json")
    if (path / LOHA_FILE).is_file():
        return path / LOHA_FILE, _json_file(path / "loha_config.json")
    candidates = sorted(path.glob("*.safetensors"))
    if len(candidates) != 1:
        raise FileNotFoundError(f"{path}: expected {LORA_FILE}, {LOKR_FILE}, {LOHA_FILE} or exactly one .safetensors "
                                f"file, found {len(candidates)}")
    return candidates[0], {}


def _located(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file() and not path.is_dir():
        raise FileNotFoundError(f"{path}: no adapter file or folder here")
    return path


def load_adapter(path: str | Path) -> Adapter:
    path = _located(path)
    if path.is_file():
        return _from_file(path, {})
    adapter = _from_file(*_weights(path))
    adapter.metadata = {**adapter.metadata, **_json_file(path / "acestep_studio.json")}
    return adapter


def adapter_metadata(path: str | Path) -> dict:
    """What ``load_adapter(path).metadata`` holds, read from the weights file's header and
    ``acestep_studio.json`` only (no tensors)."""
    path = _located(path)
    weights = path if path.is_file() else _weights(path)[0]
    header = read_metadata(weights)
    recorded = json.loads(header[METADATA_KEY]) if METADATA_KEY in header else {}
    return recorded if path.is_file() else {**recorded, **_json_file(path / "acestep_studio.json")}
