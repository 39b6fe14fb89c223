"""Attach, save and load the trainable adapter: LoRA and DoRA through PEFT, LoKr and LoHA through LyCORIS.

Only adapter parameters train; they are kept in fp32 while the base runs in bf16/fp16.
Saved forms, read by ``acestep_train.export.load``:
  LoRA: ``adapter_model.safetensors`` (PEFT state, diffusers names) + ``adapter_config.json``
  DoRA: the same, with ``use_dora`` and a ``lora_magnitude_vector`` per module
  LoKr: ``lokr_weights.safetensors`` (LyCORIS state, diffusers names) + ``lokr_config.json``
  LoHA: ``loha_weights.safetensors`` (LyCORIS state, diffusers names) + ``loha_config.json``
plus ``acestep_studio.json`` (trigger word, base model, variant, settings). Every save is
read back and compared with the live tensors; loading counts keys and refuses a partial load.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from acestep_train.atomic import atomic_path, atomic_write_json
from acestep_train.export.writers import LOHA_FILE, LOKR_FILE, LORA_FILE
from acestep_train.train.int8 import real_weight

#: LyCORIS-backed kinds: the saved file and config name
LYCORIS_FILES = {"lokr": (LOKR_FILE, "lokr_config.json"), "loha": (LOHA_FILE, "loha_config.json")}

ATTENTION = r"(to_q|to_k|to_v|to_out\.0)"
MLP = r"mlp\.(gate_proj|up_proj|down_proj)"


def target_regex(targets: str, mlp: bool) -> str:
    scopes = {"self": "self_attn", "cross": "cross_attn", "both": "(self_attn|cross_attn)"}[targets]
    parts = [rf"layers\.\d+\.{scopes}\.{ATTENTION}"] + ([rf"layers\.\d+\.{MLP}"] if mlp else [])
    return "^(" + "|".join(parts) + ")$"


def target_names(transformer: torch.nn.Module, targets: str, mlp: bool) -> list[str]:
    import re

    pattern = re.compile(target_regex(targets, mlp))
    return [name for name, module in transformer.named_modules()
            if isinstance(module, torch.nn.Linear) and pattern.match(name)]


def saved_weights(folder: Path) -> Path:
    """The adapter file ``Adapter.save`` wrote into ``folder`` (LoRA, LoKr or LoHA)."""
    for name in (LORA_FILE, LOKR_FILE, LOHA_FILE):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: no adapter weights ({LORA_FILE}, {LOKR_FILE} or {LOHA_FILE})")


class Adapter:
    """The trainable part of the model, whatever library provides it."""

    def __init__(self, transformer: torch.nn.Module, config):
        self.config, self.transformer = config, transformer
        transformer.requires_grad_(False)
        self.names = list(config.modules) or target_names(transformer, config.targets, config.mlp)
        unknown = set(self.names) - {n for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear)}
        if unknown:
            raise ValueError(f"adapter.modules names layers this model lacks: {sorted(unknown)[:3]}")
        if not self.names:
            raise ValueError(f"adapter.targets={config.targets} matched no layer of this model")
        self.network = self._attach_lycoris() if config.type in LYCORIS_FILES else self._attach_lora()
        self.params = [p for p in self.module().parameters() if p.requires_grad]
        for param in self.params:
            param.data = param.data.float()
        if not self.params:
            raise ValueError("the adapter has no trainable parameters")

    def _attach_lora(self):
        from peft import LoraConfig

        self.transformer.add_adapter(LoraConfig(
            r=self.config.rank, lora_alpha=self.config.alpha, lora_dropout=self.config.dropout,
            target_modules=list(self.names) if self.config.modules else target_regex(self.config.targets,
                                                                                    self.config.mlp),
            rank_pattern=dict(self.config.rank_pattern), alpha_pattern={}, use_dora=self.config.type == "dora"))
        return None

    def lycoris_kwargs(self) -> dict:
        """The ``create_lycoris`` kwargs of this run's LyCORIS kind (recorded in its saved config)."""
        c = self.config
        if c.type == "loha":  # a linear LoHA has no factor, Tucker or dropout
            return {"linear_dim": c.linear_dim, "linear_alpha": c.linear_alpha}
        return {"linear_dim": c.linear_dim, "linear_alpha": c.linear_alpha, "factor": c.factor,
                "decompose_both": c.decompose_both, "use_tucker": c.use_tucker, "dropout": c.dropout}

    def _attach_lycoris(self):
        from lycoris import LycorisNetwork, create_lycoris

        # LyCORIS keeps its target preset as class state: set it every time.
        LycorisNetwork.apply_preset({"enable_conv": False, "target_module": [], "target_name": self.names})
        network = create_lycoris(self.transformer, 1.0, algo=self.config.type, **self.lycoris_kwargs())
        network.apply_to()
        network.requires_grad_(True)
        return network

    def module(self) -> torch.nn.Module:
        return self.network if self.network is not None else self.transformer

    def state(self) -> dict[str, torch.Tensor]:
        if self.network is not None:
            return {k: v.detach().float().cpu().contiguous() for k, v in self.network.state_dict().items()}
        from peft.utils import get_peft_model_state_dict

        return {k: v.detach().float().cpu().contiguous() for k, v in get_peft_model_state_dict(self.transformer).items()}

    def load_state(self, state: dict[str, torch.Tensor], source: Path) -> int:
        """Load saved adapter tensors; every expected key must be present and used."""
        expected = self.state()
        missing, unexpected = set(expected) - set(state), set(state) - set(expected)
        if missing or unexpected:
            raise ValueError(f"{source}: adapter keys do not match this run ({len(missing)} missing, "
                             f"{len(unexpected)} unexpected, e.g. {sorted(missing or unexpected)[:2]})")
        if self.network is not None:
            self.network.load_state_dict(state, strict=True)
        else:
            from peft.utils import set_peft_model_state_dict

            set_peft_model_state_dict(self.transformer, state)
        reloaded = self.state()
        if not all(torch.equal(reloaded[k], state[k].float()) for k in state):
            raise ValueError(f"{source}: adapter tensors did not load as saved")
        return len(state)

    def save(self, folder: Path, metadata: dict) -> Path:
        from safetensors.torch import load_file, save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = self.state()
        name = LYCORIS_FILES[self.config.type][0] if self.network is not None else LORA_FILE
        with atomic_path(folder / name) as tmp:
            save_file(state, str(tmp), metadata={"acestep_studio": json.dumps(metadata, default=str)})
        back = load_file(str(folder / name))
        if back.keys() != state.keys() or not all(torch.equal(back[k], state[k]) for k in state):
            raise RuntimeError(f"{folder / name}: read back, it differs from the live adapter")
        if self.network is not None:
            atomic_write_json(folder / LYCORIS_FILES[self.config.type][1], self.lycoris_kwargs())
        else:
            atomic_write_json(folder / "adapter_config.json", self.peft_config())
        atomic_write_json(folder / "acestep_studio.json", metadata)
        return folder / name

    def deltas(self) -> dict[str, torch.Tensor]:
        """The weight change this adapter applies to each layer, computed from its tensors."""
        from acestep_train.export.dora import dora_from_state
        from acestep_train.export.loha import loha_from_state
        from acestep_train.export.readers import lokr_from_state, lora_from_state

        state = self.state()
        if self.network is None:
            read = dora_from_state if self.config.type == "dora" else lora_from_state
            return read(state, self.peft_config()).deltas(base=self.base_weights())
        reader = loha_from_state if self.config.type == "loha" else lokr_from_state
        return reader(state, self.lycoris_kwargs()).deltas()

    def base_weights(self) -> dict[str, torch.Tensor]:
        """Each adapted layer's frozen weight (PEFT's wrapper exposes its base layer's), an int8 base's
        dequantized: a DoRA's deltas are computed on it, and its raw codes are 127 times too large."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        modules = dict(self.transformer.named_modules())
        layers = {name: modules[name].get_base_layer() if isinstance(modules[name], BaseTunerLayer) else modules[name]
                  for name in self.names}
        return {name: real_weight(layer).detach() for name, layer in layers.items()}

    def peft_config(self) -> dict:
        config = self.transformer.peft_config["default"].to_dict()
        return json.loads(json.dumps(config, default=lambda value: sorted(value) if isinstance(value, set) else str(value)))
