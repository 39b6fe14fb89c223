"""Estimate a training run's peak GPU memory before it starts, and warn when it will not fit.

Peak = base weights + adapter (fp32 weights, grads, optimizer state) + activations + fixed
overhead (CUDA context, allocator slack). Activations are counted per token per DiT layer
per hidden unit: ``ACTIVATION_BYTES`` bytes without gradient checkpointing (attention,
cross-attention, the SwiGLU MLP at 3x width, AdaLN modulations, RMSNorm's fp32 copies);
with checkpointing only each layer's bf16 input is kept, plus one layer recomputed at a
time. The constants are analytic until a measured GPU run calibrates them (bench/, the
benchmark issue); the arithmetic itself is tested.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1024**3
ACTIVATION_BYTES = 90  # per token, per layer, per hidden unit, bf16 run without checkpointing
CUDA_OVERHEAD_GB = 0.8  # context + cuBLAS workspaces
ALLOCATOR_SLACK = 1.10  # fragmentation on top of live tensors
#: Optimizer state bytes per trainable (fp32) parameter.
OPTIMIZER_STATE_BYTES = {"adamw": 8.0, "adamw8bit": 2.0, "adafactor": 0.4, "prodigy": 16.0}
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

    @classmethod
    def from_config(cls, config: dict, parameters: int) -> "DitShape":
        return cls(config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"],
                   config["num_key_value_heads"], config["head_dim"], config["intermediate_size"],
                   config["patch_size"], parameters)


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

    def __post_init__(self):
        if self.optimizer not in OPTIMIZER_STATE_BYTES:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATE_BYTES)}, not {self.optimizer!r}")
        if self.precision not in DTYPE_BYTES:
            raise ValueError(f"precision must be one of {sorted(DTYPE_BYTES)}, not {self.precision!r}")
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


def estimate(dit: DitShape, run: RunShape) -> dict[str, float]:
    """Peak memory in GB, by component."""
    bytes_per = DTYPE_BYTES[run.precision]
    tokens = run.batch_size * (run.crop_frames // dit.patch_size)
    per_layer_full = tokens * dit.hidden * ACTIVATION_BYTES * bytes_per / 2
    cross_kv = 2 * run.batch_size * run.encoder_tokens * dit.kv_heads * dit.head_dim * bytes_per * dit.layers
    if run.gradient_checkpointing:
        activations = tokens * dit.hidden * bytes_per * dit.layers + per_layer_full + cross_kv
    else:
        activations = per_layer_full * dit.layers + cross_kv
    parts = {
        "weights": dit.parameters * bytes_per,
        "adapter": run.adapter_params * (4 + 4 + OPTIMIZER_STATE_BYTES[run.optimizer]),
        "activations": activations,
    }
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
