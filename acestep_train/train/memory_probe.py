"""Measure, without a GPU, what one training step of the full-size DiT keeps alive.

The probe builds the real classes (diffusers DiT, our ``Adapter`` with PEFT LoRA or LyCORIS LoKr)
at full size on the ``meta`` device -- shapes and dtypes without memory or arithmetic -- and runs
one forward with the preset's batch and crop. What autograd saves for backward is counted exactly:
a ``saved_tensors_hooks`` pair sees every tensor the forward keeps, and unique storages are summed
in bytes. A ``TorchDispatchMode`` records inside which DiT layer each storage was created.

Three things are emulated because they are what the GPU does and the CPU cannot show:
  * bf16 autocast (``torch.autocast("cuda")`` is off without CUDA, and meta tensors have no autocast):
    a ``TorchFunctionMode`` casts the inputs of matmul-class ops to bf16 and of fp32-class ops to
    fp32 *above* autograd, like autocast, so the casted copies are what backward saves; casts of
    fp32 leaf parameters are cached per forward, as autocast does.
  * fused attention: ``scaled_dot_product_attention`` saves query, key, value, output and an fp32
    log-sum-exp per query row (and the mask, if any), as flash / memory-efficient kernels do --
    never the T x T matrix.
  * non-reentrant gradient checkpointing: a checkpointed layer keeps its arguments; what its body
    saves is counted apart as the working set of the one layer recomputed during backward.
``tests/test_memory_probe.py`` checks the autocast emulation against real ``torch.autocast("cpu")``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map

OUTSIDE = "outside"
LOWER = {F.linear, F.conv1d, torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.Tensor.mm,
         torch.bmm, torch.Tensor.bmm, torch.addmm, torch.baddbmm, torch.einsum}
FP32 = {torch.pow, torch.Tensor.pow, torch.rsqrt, torch.exp, F.softmax, F.log_softmax, F.layer_norm}


def storage_key(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage()._cdata


class _KernelAttention(torch.autograd.Function):
    """SDPA whose saved tensors are a fused kernel's: q, k, v, output, fp32 log-sum-exp (, mask)."""

    @staticmethod
    def forward(ctx, query, key, value, mask):
        out = query.new_empty(*query.shape[:-1], value.shape[-1])
        lse = torch.empty(query.shape[:-1], dtype=torch.float32, device=query.device)
        ctx.save_for_backward(query, key, value, out, lse, *((mask,) if mask is not None else ()))
        return out

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("the memory probe's attention is forward-only")


class EmulatedAutocast(TorchFunctionMode):
    """bf16 autocast semantics for the ops the DiT uses, at the autograd level; fused attention."""

    def __init__(self, dtype: torch.dtype = torch.bfloat16, cast: bool = True):
        super().__init__()
        self.dtype, self.cast, self.cache = dtype, cast, {}

    def _to(self, value, dtype):
        if not (isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype):
            return value
        if value.is_leaf and value.requires_grad:  # autocast caches casts of parameters
            key = (id(value), dtype)
            if key not in self.cache:
                self.cache[key] = value.to(dtype)
            return self.cache[key]
        return value.to(dtype)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            return self._attention(*args, **kwargs)
        if self.cast and func in LOWER:
            args, kwargs = tree_map(lambda v: self._to(v, self.dtype), (args, kwargs))
        elif self.cast and func in FP32:
            args, kwargs = tree_map(lambda v: self._to(v, torch.float32), (args, kwargs))
        return func(*args, **kwargs)

    def _attention(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                   enable_gqa=False):
        if is_causal or dropout_p:
            raise ValueError("memory probe: causal or dropout attention is not what the ACE-Step DiT runs")
        if self.cast:
            query, key, value = (self._to(v, self.dtype) for v in (query, key, value))
        return _KernelAttention.apply(query, key, value, attn_mask)


class _Origins(TorchDispatchMode):
    """Remembers, per storage, the label that was current when an op created it (views keep theirs)."""

    def __init__(self):
        super().__init__()
        self.label = OUTSIDE
        self.origin: dict[int, str] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {storage_key(t) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and storage_key(leaf) not in inputs:
                self.origin[storage_key(leaf)] = self.label
        return out


@dataclass
class SavedBytes:
    """What one forward keeps for backward, in bytes."""

    by_origin: dict[str, int] = field(default_factory=dict)  # held until backward, by creating layer
    recompute: dict[str, int] = field(default_factory=dict)  # checkpointing: saved while a layer reruns

    def held(self) -> int:
        return sum(self.by_origin.values())

    def largest_layer(self) -> int:
        return max((v for k, v in self.by_origin.items() if k != OUTSIDE), default=0)

    def largest_recompute(self) -> int:
        return max(self.recompute.values(), default=0)


class _Counter:
    """Saved tensors by storage, held weakly: one saved by a graph the forward dropped (e.g. PEFT DoRA's
    ``B @ A`` built from an identity matrix, used only detached) is freed with it and not counted."""

    def __init__(self, excluded: set[int]):
        self.excluded, self.refs, self.nbytes, self.held = excluded, {}, {}, []

    def hold(self, tensor):
        """Count ``tensor`` as kept whatever else references it (a checkpointed layer's arguments)."""
        self.held.append(tensor)
        return self.pack(tensor)

    def pack(self, tensor):
        key = storage_key(tensor)
        if key not in self.excluded and tensor.untyped_storage().nbytes():
            self.refs.setdefault(key, []).append(weakref.ref(tensor))
            self.nbytes[key] = tensor.untyped_storage().nbytes()
        return tensor

    def alive(self) -> dict[int, int]:
        """{storage: bytes} of what is still held (call while the forward's output is referenced)."""
        return {key: self.nbytes[key] for key, refs in self.refs.items() if any(ref() is not None for ref in refs)}

    def bytes_by(self, origin: dict[int, str]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for key, nbytes in self.alive().items():
            label = origin.get(key, OUTSIDE)
            totals[label] = totals.get(label, 0) + nbytes
        return totals


def _label_layers(transformer, origins: _Origins) -> list:
    handles = []
    for index, layer in enumerate(transformer.layers):
        def enter(module, args, _name=f"layer{index}"):
            origins.label = _name

        def leave(module, args, output):
            origins.label = OUTSIDE

        handles += [layer.register_forward_pre_hook(enter), layer.register_forward_hook(leave)]
    return handles


def _checkpointing(transformer, counter: _Counter, origins: _Origins, recompute: dict[str, int]):
    """Replace the checkpoint function: a layer holds its arguments; its body's saves are the recompute set."""
    original = transformer._gradient_checkpointing_func

    def run(function, *args, **kwargs):
        for leaf in tree_leaves((args, kwargs)):
            if isinstance(leaf, torch.Tensor):
                counter.hold(leaf)
        inner = _Counter(counter.excluded)
        with torch.autograd.graph.saved_tensors_hooks(inner.pack, lambda t: t):
            out = function(*args, **kwargs)
        recompute[f"layer{len(recompute)}"] = sum(inner.alive().values())
        return out.detach().requires_grad_(True)

    transformer._gradient_checkpointing_func = run
    return lambda: setattr(transformer, "_gradient_checkpointing_func", original)


def saved_bytes(transformer, inputs: dict, excluded: set[int], autocast: bool = True) -> SavedBytes:
    """Run one training forward and count what it keeps for backward."""
    counter, origins, result = _Counter(excluded), _Origins(), SavedBytes()
    handles = _label_layers(transformer, origins)
    restore = (_checkpointing(transformer, counter, origins, result.recompute)
               if getattr(transformer, "gradient_checkpointing", False) else (lambda: None))
    try:
        with EmulatedAutocast(cast=autocast), origins, \
                torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
            output = transformer(**inputs)  # held: its graph keeps what backward needs
        result.by_origin = counter.bytes_by(origins.origin)
    finally:
        restore()
        for handle in handles:
            handle.remove()
    del output
    return result


def probe_inputs(model_config: dict, batch: int, frames: int, encoder_tokens: int, device="meta") -> dict:
    from acestep_train.models.keymap import encoder_width

    channels, width = model_config["audio_acoustic_hidden_dim"], encoder_width(model_config)

    def rand(*shape):
        return torch.randn(*shape, device=device)

    t = torch.rand(batch, device=device)
    return {"hidden_states": rand(batch, frames, channels), "timestep": t, "timestep_r": t,
            "encoder_hidden_states": rand(batch, encoder_tokens, width),
            "context_latents": rand(batch, frames, 2 * channels)}


def frozen_and_adapter_keys(transformer, adapter) -> set[int]:
    tensors = [*transformer.parameters(), *transformer.buffers(), *adapter.params]
    return {storage_key(t) for t in tensors}
