"""Adapters as plain tensors, independent of the library that trained them.

``Adapter`` maps each adapted module (diffusers name, e.g. ``layers.0.self_attn.to_q``)
to its factors. Each factor type knows its weight delta, computed here from the
tensors: LoRA ``(alpha / r) * B @ A``; LoKr ``scale * kron(W1, W2)`` with
``W = w`` or ``w_a @ w_b`` and ``scale = alpha / dim`` (1 when neither side is
decomposed, as LyCORIS does). We compute deltas ourselves rather than trust
``merge_to`` (lycoris-lora 4.1.3 applies the LoKr scale twice); the tests check these
formulas against the real PEFT / LyCORIS forward passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch


@dataclass
class LoraFactors:
    down: torch.Tensor  # A: [r, in]
    up: torch.Tensor  # B: [out, r]
    alpha: float

    @property
    def rank(self) -> int:
        return int(self.down.shape[0])

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of the weight it changes: ``delta().shape``, without building the delta."""
        return int(self.up.shape[0]), int(self.down.shape[1])

    def delta(self) -> torch.Tensor:
        return self.scale * (self.up.float() @ self.down.float())


@dataclass
class LokrFactors:
    """LyCORIS LoKr factors of one linear layer (``w1``/``w2`` full, or ``*_a @ *_b``)."""

    tensors: dict[str, torch.Tensor]  # lokr_w1 | lokr_w1_a + lokr_w1_b, lokr_w2 | lokr_w2_a + lokr_w2_b
    alpha: float

    def _side(self, name: str) -> torch.Tensor:
        if f"lokr_{name}" in self.tensors:
            return self.tensors[f"lokr_{name}"].float()
        return self.tensors[f"lokr_{name}_a"].float() @ self.tensors[f"lokr_{name}_b"].float()

    @property
    def dim(self) -> int | None:
        """The decomposition rank, or None when both sides are full matrices."""
        for name in ("lokr_w2_b", "lokr_w1_b"):
            if name in self.tensors:
                return int(self.tensors[name].shape[0])
        return None

    @property
    def scale(self) -> float:
        return 1.0 if self.dim is None else self.alpha / self.dim

    def _side_shape(self, name: str) -> tuple[int, int]:
        if f"lokr_{name}" in self.tensors:
            rows, cols = self.tensors[f"lokr_{name}"].shape
            return int(rows), int(cols)
        return int(self.tensors[f"lokr_{name}_a"].shape[0]), int(self.tensors[f"lokr_{name}_b"].shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of the weight it changes (the Kronecker product's): ``delta().shape``, without building it."""
        (rows1, cols1), (rows2, cols2) = self._side_shape("w1"), self._side_shape("w2")
        return rows1 * rows2, cols1 * cols2

    def delta(self) -> torch.Tensor:
        return self.scale * torch.kron(self._side("w1"), self._side("w2"))


@dataclass
class Adapter:
    kind: str  # "lora" | "lokr" | "loha" (``loha.LohaFactors``) | "dora" (``dora.DoraFactors``: its change depends on the base weight)
    modules: dict  # diffusers module name -> LoraFactors | LokrFactors | LohaFactors | DoraFactors
    metadata: dict[str, str] = field(default_factory=dict)  # trigger word, base model, variant, settings
    lokr_config: dict = field(default_factory=dict)  # LyCORIS network kwargs (LoKr and LoHA)

    def module_delta(self, name: str, base: torch.Tensor | None = None) -> torch.Tensor:
        """One module's weight change; a DoRA needs that module's ``base`` weight."""
        factors = self.modules[name]
        if self.kind != "dora":
            return factors.delta()
        if base is None:
            raise ValueError(f"{name}: a DoRA's weight change depends on the base weight, and none was given")
        return factors.delta_on(base)

    def deltas(self, strength: float = 1.0, base: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """``strength x`` each module's weight change; ``base``: module -> base weight (needed by DoRA)."""
        if not self.modules:
            raise ValueError("the adapter has no modules: nothing would change")
        return {name: strength * self.module_delta(name, None if base is None else base[name])
                for name in self.modules}

    def comparable(self) -> dict[str, torch.Tensor]:
        """Tensors that fix the adapter's effect on any base: deltas, or a DoRA's LoRA delta and magnitude."""
        if self.kind != "dora":
            return self.deltas()
        parts = {name: factors.lora.delta() for name, factors in self.modules.items()}
        return {**parts, **{f"{name}#magnitude": f.magnitude.float() for name, f in self.modules.items()}}

    def digest(self) -> str:
        """sha256 of the kind, module names and factor tensors: the same adapter, whatever its metadata."""
        digest = hashlib.sha256(self.kind.encode())
        for name in sorted(self.modules):
            factors = self.modules[name]
            tensors = {"down": factors.down, "up": factors.up} if isinstance(factors, LoraFactors) else factors.tensors
            digest.update(f"{name}:{factors.alpha}".encode())
            for key in sorted(tensors):
                digest.update(key.encode())
                digest.update(tensors[key].detach().float().contiguous().cpu().numpy().tobytes())
        return digest.hexdigest()

    def description(self) -> str:
        """A line naming the adapter for the user: kind, modules, base model and step when known."""
        base = self.metadata.get("base_model")
        step = self.metadata.get("step")
        return (f"{self.kind}, {len(self.modules)} modules" + (f", trained on {base}" if base else "")
                + (f", step {step}" if step is not None else ""))
