"""Estimate a training run's peak GPU memory before it starts, and warn when it will not fit.

Peak = base weights + adapter (fp32 weights, grads, optimizer state; its fp32 moving average when
the EMA is held on the GPU) + activations + fixed overhead (CUDA context, allocator slack). Activations are what the forward keeps for backward
plus a backward working set (one layer's gradients; with checkpointing, one recomputed layer and
its gradients). The activation constants below are calibrated from a measurement, not guessed:
``acestep_train/train/memory_probe.py`` counts every tensor autograd saves while the full-size DiT
runs a bf16-autocast forward on the meta device (attention counted as flash / memory-efficient
kernels keep it), and ``python -m bench preset_fit --simulate`` checks that this planner stays
within 10 % of that measurement for every preset (``tests/test_vram_calibration.py``). Bytes are
for bf16 compute; CUDA context and allocator slack stay assumptions until a GPU run measures them.

The per-token constants are measured per model size (``DitShape``): the 2 B DiT's and the XL's
(hidden 2560, 32 layers; measured the same way, by differencing probes at 500 and 1000 audio tokens).
Encoder-token bytes (the cross-attention key/value path, ``4 * kv width``) and the checkpointed
layer input (``2 * hidden``) follow from the shape. ``base_weights="int8"`` stores the frozen
linears of the DiT's layers in int8 (bitsandbytes ``Linear8bitLt``: one byte per weight plus an
fp32 scale per output row); the activations are taken as the bf16 run's until a GPU measures them.
"""

from __future__ import annotations

from dataclasses import dataclass

from acestep_train.train.config import BASE_WEIGHTS  # full | int8: how the frozen base is stored

GB = 1024**3
# Measured (memory probe, bf16 autocast, full-size 2 B DiT): bytes kept per audio token per layer by
# the frozen block (norms, attention q/k/v/out + log-sum-exp, SwiGLU MLP, AdaLN), before any adapter.
BASE_TOKEN_BYTES = 125_227
# Bytes per token outside the layers (patchify in, norm and projection out).
OUTSIDE_TOKEN_BYTES = 15_804
# With checkpointing: bytes held per token outside the layers (per layer: its bf16 input, 2 * hidden).
CHECKPOINT_OUTSIDE_TOKEN_BYTES = 19_900
# The same three measured constants for the XL DiT (token, outside, checkpointed outside).
XL_TOKEN_BYTES, XL_OUTSIDE_TOKEN_BYTES, XL_CHECKPOINT_OUTSIDE_TOKEN_BYTES = 197_196, 18_876, 23_996
# Adapter extra per input element of each adapted projection, keyed (type, dropout): LoRA keeps a
# bf16 copy of its input (plus the dropout mask and output); LoKr its input. Self-attention, the
# cross-attention q/out (audio tokens), the cross-attention k/v (encoder tokens), the MLP.
SELF_INPUT_BYTES = {("lora", True): 6.0, ("lora", False): 2.0, ("lokr", False): 1.0}
CROSS_INPUT_BYTES = {("lora", True): 6.0, ("lora", False): 2.0, ("lokr", False): 2.0}
ENCODER_INPUT_BYTES = {("lora", True): 3.5, ("lora", False): 2.0, ("lokr", False): 1.5}
MLP_INPUT_BYTES = {("lora", True): 6.0, ("lora", False): 2.0, ("lokr", False): 2.0}
# DoRA (PEFT use_dora) keeps LoRA's saves plus, per output element of each adapted projection, the base
# output and the LoRA output (bf16 each) for the magnitude's gradient: measured 4.0 bytes with or without
# dropout. Its weight-norm pass (B @ A via an identity matrix, used detached) is freed within the forward.
DORA_OUTPUT_BYTES = 4.0
# With dropout PEFT's DoRA recomputes the base output on the dropped input from a cast copy of the
# weight, which autocast keeps in bf16 for backward: about 2 bytes per adapted weight element (measured).
DORA_DROPOUT_WEIGHT_BYTES = 2.0
# LoKr keeps each module's delta weight (bf16, plus its factors' products) per weight element.
LOKR_SELF_WEIGHT_BYTES, LOKR_OTHER_WEIGHT_BYTES = 3.0, 2.0
# LoHA, like LoKr, builds each module's full delta weight and runs the layer on it: the memory probe
# measures the same saved bytes for both at the same shapes (16gb preset: 3.441 GB either way), so the
# LoKr constants above serve both.
# DoRA keeps LoRA's saves plus its own (DORA_OUTPUT_BYTES above).
SAME_ACTIVATIONS_AS = {"loha": "lokr", "dora": "lora"}
CUDA_OVERHEAD_GB = 0.8  # context + cuBLAS workspaces
ALLOCATOR_SLACK = 1.10  # fragmentation on top of live tensors
#: Optimizer state bytes per trainable (fp32) parameter.
OPTIMIZER_STATE_BYTES = {"adamw": 8.0, "adamw8bit": 2.0, "adafactor": 0.4, "prodigy": 16.0}
#: The adapter's moving average (fp32) per trainable parameter, when it is held on the GPU.
EMA_BYTES = 4
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


@dataclass(frozen=True)
class DitShape:
    hidden: int = 2048
    layers: int = 24
    heads: int = 16
    kv_heads: int = 8
    head_dim: int = 128
    intermediate: int = 6144
    patch_size: int = 2
    parameters: int = 1_575_458_880
    token_bytes: float = BASE_TOKEN_BYTES  # measured per model size (see the module docstring)
    outside_token_bytes: float = OUTSIDE_TOKEN_BYTES
    checkpoint_outside_bytes: float = CHECKPOINT_OUTSIDE_TOKEN_BYTES

    @classmethod
    def from_config(cls, config: dict, parameters: int) -> "DitShape":
        """The shape of a config; measured constants of the 2 B or XL DiT, others scaled by width from the 2 B's."""
        hidden = config["hidden_size"]
        measured = {XL_DIT.hidden: XL_DIT}.get(hidden)
        scale = hidden / cls.hidden
        constants = ((measured.token_bytes, measured.outside_token_bytes, measured.checkpoint_outside_bytes)
                     if measured else (BASE_TOKEN_BYTES * scale, OUTSIDE_TOKEN_BYTES * scale,
                                       CHECKPOINT_OUTSIDE_TOKEN_BYTES * scale))
        return cls(hidden, config["num_hidden_layers"], config["num_attention_heads"],
                   config["num_key_value_heads"], config["head_dim"], config["intermediate_size"],
                   config["patch_size"], parameters, *constants)

    @property
    def layer_linear_parameters(self) -> int:
        """Weights of the linears inside the layers (what int8 base weights store in one byte)."""
        return self.layers * (2 * _attention_weights(self) + 3 * self.hidden * self.intermediate)

    @property
    def layer_linear_rows(self) -> int:
        """Output rows of those linears (one fp32 int8 scale each)."""
        q_out, kv_out = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return self.layers * (2 * (q_out + 2 * kv_out + self.hidden) + 2 * self.intermediate + self.hidden)


def _attention_weights(dit: DitShape) -> int:
    q_out, kv_out = dit.heads * dit.head_dim, dit.kv_heads * dit.head_dim
    return dit.hidden * (q_out + 2 * kv_out) + q_out * dit.hidden


#: The XL DiT (``acestep-v15-xl-*``; ``models/full_config.FULL_XL_DIT``): 4,168,897,088 parameters.
XL_DIT = DitShape(hidden=2560, layers=32, heads=32, kv_heads=8, head_dim=128, intermediate=9728,
                  parameters=4_168_897_088, token_bytes=XL_TOKEN_BYTES, outside_token_bytes=XL_OUTSIDE_TOKEN_BYTES,
                  checkpoint_outside_bytes=XL_CHECKPOINT_OUTSIDE_TOKEN_BYTES)
#: Planner shapes by model size.
MODEL_SHAPES = {"2b": DitShape(), "xl": XL_DIT}


@dataclass(frozen=True)
class RunShape:
    adapter_params: int
    optimizer: str = "adamw"
    batch_size: int = 1
    crop_frames: int = 1500  # latent frames per sample (25 per second)
    encoder_tokens: int = 600  # packed lyrics + timbre + caption tokens
    gradient_checkpointing: bool = False
    precision: str = "bf16"
    adapter_type: str = "lora"
    targets: str = "both"  # self | cross | both
    mlp: bool = False
    dropout: bool = True
    ema_on_gpu: bool = False  # an fp32 moving average of the adapter held on the GPU (train/ema.py)
    base_weights: str = "full"  # full | int8 (frozen linears of the layers in int8)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZER_STATE_BYTES:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATE_BYTES)}, not {self.optimizer!r}")
        if self.precision not in DTYPE_BYTES:
            raise ValueError(f"precision must be one of {sorted(DTYPE_BYTES)}, not {self.precision!r}")
        if self.base_weights not in BASE_WEIGHTS:
            raise ValueError(f"base_weights must be one of {BASE_WEIGHTS}, not {self.base_weights!r}")
        if self.batch_size < 1 or self.crop_frames < 2:
            raise ValueError("batch_size must be >= 1 and crop_frames >= 2")


def lora_params(dit: DitShape, rank: int, self_attention: bool = True, cross_attention: bool = True,
                mlp: bool = False) -> int:
    """Trainable parameters of a rank-``rank`` LoRA on the chosen projections of every layer."""
    q_out, kv_out = dit.heads * dit.head_dim, dit.kv_heads * dit.head_dim
    attention = rank * ((dit.hidden + q_out) + 2 * (dit.hidden + kv_out) + (q_out + dit.hidden))
    per_layer = attention * (int(self_attention) + int(cross_attention))
    if mlp:
        per_layer += rank * 3 * (dit.hidden + dit.intermediate)
    return per_layer * dit.layers


def dora_magnitude_params(dit: DitShape, targets: str = "both", mlp: bool = False) -> int:
    """DoRA's extra trainable parameters: one magnitude per output row of each adapted projection."""
    q_out, kv_out = dit.heads * dit.head_dim, dit.kv_heads * dit.head_dim
    attention = q_out + 2 * kv_out + dit.hidden
    per_layer = attention * ((targets in ("self", "both")) + (targets in ("cross", "both")))
    return (per_layer + mlp * (2 * dit.intermediate + dit.hidden)) * dit.layers


def adapter_params(dit: DitShape, adapter) -> int:
    """Trainable parameters of an ``AdapterConfig`` (lora | dora | lokr | loha) on this DiT."""
    if adapter.type == "lokr":
        return lokr_params(dit, adapter.linear_dim, adapter.factor, adapter.targets, adapter.mlp)
    if adapter.type == "loha":
        return loha_params(dit, adapter.linear_dim, adapter.targets, adapter.mlp)
    on_self, on_cross = adapter.targets in ("self", "both"), adapter.targets in ("cross", "both")
    params = lora_params(dit, adapter.rank, on_self, on_cross, adapter.mlp)
    return params + (dora_magnitude_params(dit, adapter.targets, adapter.mlp) if adapter.type == "dora" else 0)


def has_dropout(adapter) -> bool:
    """Whether the planner counts dropout's saves (LoRA and DoRA; LyCORIS's LoKr keeps none)."""
    return adapter.type in ("lora", "dora") and adapter.dropout > 0


def factorization(dimension: int, factor: int = -1) -> tuple[int, int]:
    """LyCORIS's near-square split ``m * n = dimension`` (m <= n, m <= factor when factor > 0)."""
    if 0 < factor and dimension % factor == 0:
        m, n = factor, dimension // factor
        return (m, n) if m <= n else (n, m)
    limit = dimension if factor < 0 else factor
    m, n = 1, dimension
    while m < n:
        new_m = m + 1
        while dimension % new_m:
            new_m += 1
        new_n = dimension // new_m
        if new_m + new_n > m + n or new_m > limit:
            break
        m, n = new_m, new_n
    return m, n


def lokr_module_params(in_dim: int, out_dim: int, dim: int, factor: int = -1) -> int:
    in_m, in_n = factorization(in_dim, factor)
    out_l, out_k = factorization(out_dim, factor)
    w1 = out_l * in_m
    w2 = out_k * in_n if dim >= max(out_k, in_n) / 2 else dim * (out_k + in_n)
    return w1 + w2


def lokr_params(dit: DitShape, dim: int, factor: int = -1, targets: str = "both", mlp: bool = False) -> int:
    """Trainable parameters of a LoKr (LyCORIS, ``decompose_both`` off) on the chosen projections."""
    q_out, kv_out = dit.heads * dit.head_dim, dit.kv_heads * dit.head_dim
    shapes = [(dit.hidden, q_out), (dit.hidden, kv_out), (dit.hidden, kv_out), (q_out, dit.hidden)]
    attention = sum(lokr_module_params(i, o, dim, factor) for i, o in shapes)
    per_layer = attention * ((targets in ("self", "both")) + (targets in ("cross", "both")))
    if mlp:
        per_layer += 2 * lokr_module_params(dit.hidden, dit.intermediate, dim, factor)
        per_layer += lokr_module_params(dit.intermediate, dit.hidden, dim, factor)
    return per_layer * dit.layers


def loha_params(dit: DitShape, dim: int, targets: str = "both", mlp: bool = False) -> int:
    """Trainable parameters of a LoHA: two rank-``dim`` pairs per projection, twice a rank-``dim`` LoRA."""
    return 2 * lora_params(dit, dim, targets in ("self", "both"), targets in ("cross", "both"), mlp)


def _adapter_bytes(dit: DitShape, run: RunShape) -> tuple[float, float, float]:
    """Adapter extra: (bytes per audio token, per encoder token, constant), per layer."""
    kind = SAME_ACTIVATIONS_AS.get(run.adapter_type, run.adapter_type)
    key = (kind, run.dropout and kind == "lora")
    q_out, kv_out = dit.heads * dit.head_dim, dit.kv_heads * dit.head_dim
    attention_w = _attention_weights(dit)
    on_self, on_cross = run.targets in ("self", "both"), run.targets in ("cross", "both")
    per_token = on_self * (3 * dit.hidden + q_out) * SELF_INPUT_BYTES[key]
    per_token += on_cross * (dit.hidden + q_out) * CROSS_INPUT_BYTES[key]
    per_token += run.mlp * (2 * dit.hidden + dit.intermediate) * MLP_INPUT_BYTES[key]
    per_encoder = on_cross * 2 * dit.hidden * ENCODER_INPUT_BYTES[key]
    constant = 0.0
    if run.adapter_type == "dora":
        per_token += DORA_OUTPUT_BYTES * (on_self * (q_out + 2 * kv_out + dit.hidden) + on_cross * (q_out + dit.hidden)
                                          + run.mlp * (2 * dit.intermediate + dit.hidden))
        per_encoder += DORA_OUTPUT_BYTES * on_cross * 2 * kv_out
        if key[1]:
            mlp_w = 3 * dit.hidden * dit.intermediate
            constant = DORA_DROPOUT_WEIGHT_BYTES * (attention_w * (on_self + on_cross) + run.mlp * mlp_w)
    if kind == "lokr":
        constant = attention_w * (on_self * LOKR_SELF_WEIGHT_BYTES + on_cross * LOKR_OTHER_WEIGHT_BYTES)
        constant += run.mlp * 3 * dit.hidden * dit.intermediate * LOKR_OTHER_WEIGHT_BYTES
    return per_token, per_encoder, constant


def activation_bytes(dit: DitShape, run: RunShape) -> float:
    """Saved-for-backward bytes plus the backward working set, at bf16 compute."""
    extra_token, extra_encoder, constant = _adapter_bytes(dit, run)
    tokens = run.crop_frames // dit.patch_size
    encoder_bytes = 4 * dit.kv_heads * dit.head_dim  # the cross-attention key/value path: 4 * kv width
    layer = run.batch_size * (tokens * (dit.token_bytes + extra_token)
                              + run.encoder_tokens * (encoder_bytes + extra_encoder)) + constant
    if run.gradient_checkpointing:  # inputs held; one layer recomputed, plus its gradients
        held = run.batch_size * (tokens * (dit.layers * 2 * dit.hidden + dit.checkpoint_outside_bytes)
                                 + run.encoder_tokens * encoder_bytes)
        return held + 2 * layer
    return dit.layers * layer + run.batch_size * tokens * dit.outside_token_bytes + layer  # + one layer's gradients


def weight_bytes(dit: DitShape, run: RunShape) -> float:
    """The frozen DiT: every weight at the run's precision, or the layers' linears in int8 (+ row scales)."""
    bytes_per = DTYPE_BYTES[run.precision]
    if run.base_weights == "full":
        return dit.parameters * bytes_per
    linear = dit.layer_linear_parameters
    return (dit.parameters - linear) * bytes_per + linear + 4 * dit.layer_linear_rows


def estimate(dit: DitShape, run: RunShape) -> dict[str, float]:
    """Peak memory in GB, by component."""
    bytes_per = DTYPE_BYTES[run.precision]
    parts = {
        "weights": weight_bytes(dit, run),
        "adapter": run.adapter_params * (4 + 4 + OPTIMIZER_STATE_BYTES[run.optimizer]),
        "activations": activation_bytes(dit, run) * bytes_per / 2,
    }
    if run.ema_on_gpu:
        parts["ema"] = run.adapter_params * EMA_BYTES
    breakdown = {name: value / GB for name, value in parts.items()}
    breakdown["overhead"] = CUDA_OVERHEAD_GB + (ALLOCATOR_SLACK - 1) * sum(breakdown.values())
    breakdown["total"] = sum(breakdown.values())
    return {name: round(value, 2) for name, value in breakdown.items()}


def fit_warning(total_gb: float, vram_gb: float, margin_gb: float = 1.0) -> str | None:
    """A message when the estimate leaves less than ``margin_gb`` of the card free, else None."""
    if total_gb + margin_gb <= vram_gb:
        return None
    return (f"estimated peak {total_gb:.1f} GB does not fit {vram_gb:.1f} GB with {margin_gb:.0f} GB to spare: "
            "turn on gradient checkpointing, lower the batch or crop length, or use an 8-bit optimizer")


def run_shape(config, adapter_params: int, crop: int, precision: str = "bf16") -> RunShape:
    """A ``TrainConfig``'s run as the planner sees it (the run's and the tab's estimate both come from here)."""
    a = config.adapter
    return RunShape(adapter_params, config.optim.name, config.data.batch_size, crop,
                    gradient_checkpointing=config.loop.gradient_checkpointing, precision=precision,
                    adapter_type=a.type, targets=a.targets, mlp=a.mlp, dropout=has_dropout(a),
                    ema_on_gpu=config.ema.on_gpu, base_weights=config.loop.base_weights)


def planned(config, model: str = "2b") -> dict[str, float]:
    """The planner's peak for a ``TrainConfig`` on the full-size DiT (``2b`` or ``xl``), by component."""
    if model not in MODEL_SHAPES:
        raise ValueError(f"model must be one of {sorted(MODEL_SHAPES)}, not {model!r}")
    dit = MODEL_SHAPES[model]
    return estimate(dit, run_shape(config, adapter_params(dit, config.adapter), config.data.max_latent_length or 6000))
