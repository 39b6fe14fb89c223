"""Training settings: one typed tree, built from a JSON file and/or CLI flags, validated once.

Every field has a docstring-like comment; errors name the field ("optim.lr must be > 0").
``None`` in ``timesteps`` means "the model variant decides" (turbo: the 8-step table and no
CFG dropout; base/sft: logit-normal and 15% CFG dropout); ``run.json`` records what ran.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

from acestep_train import safe_json
from acestep_train.paths import confine

ATTENTION_TARGETS = ("self", "cross", "both")
OPTIMIZERS = ("adamw", "adamw8bit", "adafactor", "prodigy")
SCHEDULES = ("cosine", "cosine_with_restarts", "linear", "constant", "constant_with_warmup")
SAMPLERS = ("table", "logit_normal")
ADAPTER_TYPES = ("lora", "lokr", "loha", "dora")  # PEFT LoRA and DoRA; LyCORIS LoKr and LoHA
BASE_WEIGHTS = ("full", "int8")


@dataclass
class AdapterConfig:
    type: str = "lora"  # lora | dora (PEFT; DoRA: LoRA + a magnitude per output row) | lokr | loha (LyCORIS)
    targets: str = "both"  # attention the adapter sits on: self | cross | both
    mlp: bool = False  # also adapt the MLP (gate/up/down projections)
    rank: int = 16  # LoRA / DoRA rank
    alpha: float = 16.0  # LoRA / DoRA alpha (scale = alpha / rank)
    dropout: float = 0.0  # LoRA / LoKr dropout
    rank_pattern: dict = field(default_factory=dict)  # LoRA per-module ranks: {"layers.0.self_attn.to_q": 8}
    modules: list = field(default_factory=list)  # explicit layers to adapt (overrides targets/mlp), e.g. from estimate
    linear_dim: int = 16  # LoKr / LoHA dim (LoHA: rank of each Hadamard factor)
    linear_alpha: float = 16.0  # LoKr / LoHA alpha (LoHA scale = alpha / dim)
    factor: int = -1  # LoKr Kronecker factor (-1: near-square)
    decompose_both: bool = False  # LoKr: decompose both factors
    use_tucker: bool = False  # LoKr: Tucker decomposition (conv layers only; kept for parity)

    def validate(self) -> None:
        check(self.type in ADAPTER_TYPES, f"adapter.type must be one of {ADAPTER_TYPES}")
        check(self.type != "loha" or self.dropout == 0.0,
              "adapter.dropout must be 0 for loha (LyCORIS's LoHA has no dropout; it would be ignored)")
        check(self.type != "loha" or (self.factor, self.decompose_both, self.use_tucker) == (-1, False, False),
              "adapter.factor, adapter.decompose_both and adapter.use_tucker are LoKr settings; loha takes none")
        check(self.targets in ATTENTION_TARGETS, f"adapter.targets must be one of {ATTENTION_TARGETS}")
        check(self.rank >= 1 and self.linear_dim >= 1, "adapter.rank and adapter.linear_dim must be >= 1")
        check(0.0 <= self.dropout < 1.0, "adapter.dropout must be in [0, 1)")
        check(self.alpha > 0 and self.linear_alpha > 0, "adapter.alpha and adapter.linear_alpha must be > 0")


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw | adamw8bit | adafactor | prodigy
    lr: float = 1e-4  # learning rate (Prodigy: a multiplier, usually 1.0)
    weight_decay: float = 0.01
    betas: tuple = (0.9, 0.999)
    grad_clip: float = 1.0  # max gradient norm (0 = off)

    def validate(self) -> None:
        check(self.name in OPTIMIZERS, f"optim.name must be one of {OPTIMIZERS}")
        check(self.lr > 0, "optim.lr must be > 0")
        check(self.weight_decay >= 0, "optim.weight_decay must be >= 0")
        check(self.grad_clip >= 0, "optim.grad_clip must be >= 0")


@dataclass
class ScheduleConfig:
    name: str = "cosine"  # cosine | cosine_with_restarts | linear | constant | constant_with_warmup
    warmup_steps: int = 0
    cycles: int = 1  # cosine_with_restarts: number of hard restarts

    def validate(self) -> None:
        check(self.name in SCHEDULES, f"schedule.name must be one of {SCHEDULES}")
        check(self.warmup_steps >= 0, "schedule.warmup_steps must be >= 0")
        check(self.cycles >= 1, "schedule.cycles must be >= 1")


@dataclass
class DataConfig:
    batch_size: int = 1
    grad_accum: int = 1  # micro-batches per optimizer step
    max_latent_length: int = 1500  # crop window in latent frames (25 per second); 0 = whole song
    repeats: int = 1  # each song appears this many times per epoch

    def validate(self) -> None:
        check(self.batch_size >= 1, "data.batch_size must be >= 1")
        check(self.grad_accum >= 1, "data.grad_accum must be >= 1")
        check(self.max_latent_length == 0 or self.max_latent_length >= 2, "data.max_latent_length must be 0 or >= 2")
        check(self.repeats >= 1, "data.repeats must be >= 1")


@dataclass
class TimestepConfig:
    sampler: str | None = None  # table | logit_normal | None (variant default)
    mu: float | None = None  # logit-normal mean (None: the model's config, else -0.4)
    sigma: float | None = None  # logit-normal std (None: the model's config, else 1.0)
    cfg_dropout: float | None = None  # share of samples trained unconditioned (None: 0 turbo, 0.15 base/sft)
    min_snr_gamma: float = 0.0  # min-SNR weighting (velocity form); 0 = off

    def validate(self) -> None:
        check(self.sampler in (None, *SAMPLERS), f"timesteps.sampler must be one of {SAMPLERS}")
        check(self.sigma is None or self.sigma > 0, "timesteps.sigma must be > 0")
        check(self.cfg_dropout is None or 0 <= self.cfg_dropout < 1, "timesteps.cfg_dropout must be in [0, 1)")
        check(self.min_snr_gamma >= 0, "timesteps.min_snr_gamma must be >= 0")


@dataclass
class LoopConfig:
    epochs: int = 10
    gradient_checkpointing: bool = False
    nan_patience: int = 5  # stop after this many non-finite losses in a row
    devices: int = 1  # processes (GPUs) per node
    num_nodes: int = 1  # machines; rendezvous from the environment (torchrun, SLURM, MASTER_ADDR/PORT + NODE_RANK)
    strategy: str = "auto"  # a Lightning Fabric strategy, e.g. ddp
    accelerator: str = "auto"
    precision: str | None = None  # None: bf16-mixed / 16-mixed on CUDA, 32-true on CPU
    base_weights: str = "full"  # frozen DiT linears: full (the run's precision) | int8 (bitsandbytes, CUDA only)

    def validate(self) -> None:
        check(self.epochs >= 1, "loop.epochs must be >= 1")
        check(self.base_weights in BASE_WEIGHTS, f"loop.base_weights must be one of {BASE_WEIGHTS}")
        check(self.nan_patience >= 1, "loop.nan_patience must be >= 1")
        check(self.devices >= 1, "loop.devices must be >= 1")
        check(self.num_nodes >= 1, "loop.num_nodes must be >= 1")
        check(self.num_nodes == 1 or self.strategy in ("auto", "ddp"),
              f"loop.num_nodes > 1 trains with DDP: loop.strategy must be auto or ddp, not {self.strategy!r}")


@dataclass
class CheckpointConfig:
    save_every_epochs: int = 1  # 0 = off
    save_every_steps: int = 0  # 0 = off
    keep_last: int = 3  # step checkpoints kept (best/ and final/ are separate)

    def validate(self) -> None:
        check(self.save_every_epochs >= 0 and self.save_every_steps >= 0, "checkpoint.save_every_* must be >= 0")
        check(self.keep_last >= 1, "checkpoint.keep_last must be >= 1")


@dataclass
class BestConfig:
    window: int = 5  # epochs in the moving average of epoch losses
    min_delta: float = 0.001  # a new best must beat the old by this much
    track_from_epoch: int = 0  # ignore epochs before this one (0 = from the start)
    patience: int = 0  # early stop after this many epochs without a new best (0 = off)

    def validate(self) -> None:
        check(self.window >= 1, "best.window must be >= 1")
        check(self.min_delta >= 0 and self.track_from_epoch >= 0 and self.patience >= 0,
              "best.min_delta, best.track_from_epoch and best.patience must be >= 0")


@dataclass
class ValidationConfig:
    every_steps: int = 0  # evaluate the held-out songs every N optimizer steps; 0 = off (no split, all songs train)
    fraction: float = 0.0  # share of songs held out, drawn with ``seed``, when none is marked or listed
    songs: list = field(default_factory=list)  # held-out songs: sample ids, tensor files or audio file names/stems
    crops: int = 1  # fixed crops per held-out song (each data.max_latent_length frames)
    timesteps: int = 4  # fixed timesteps per crop; forward passes per evaluation = songs x crops x timesteps
    seed: int = 0  # the split's draw and the fixed crops and noise (never the training RNG)

    def validate(self) -> None:
        typed_field("validation.every_steps", self.every_steps, int)
        typed_field("validation.fraction", self.fraction, (int, float))
        typed_field("validation.crops", self.crops, int)
        typed_field("validation.timesteps", self.timesteps, int)
        typed_field("validation.seed", self.seed, int)
        check(isinstance(self.songs, list) and all(isinstance(s, str) and s.strip() for s in self.songs),
              f"validation.songs must be a list of song names, got {self.songs!r}")
        check(self.every_steps >= 0, "validation.every_steps must be >= 0")
        check(0.0 <= self.fraction < 1.0, "validation.fraction must be in [0, 1)")
        check(1 <= self.crops <= 64, "validation.crops must be between 1 and 64")
        check(1 <= self.timesteps <= 64, "validation.timesteps must be between 1 and 64")

    @property
    def enabled(self) -> bool:
        return self.every_steps > 0


@dataclass
class EmaConfig:
    """An exponential moving average of the adapter's trainable weights (``train/ema.py``)."""

    enabled: bool = False  # keep the average; checkpoints, best/ and the run's end also write it (ema/, final-ema/)
    decay: float = 0.999  # weight of the old average at each optimizer step (0.999: about the last 1,000 steps)
    warmup: bool = True  # the decay ramps up as (1 + k) / (10 + k) (diffusers' EMAModel), so a short run's
    #                      average is not stuck at the initial weights
    on_cpu: bool = False  # hold the average in CPU memory (saves 4 bytes per adapter parameter of GPU memory;
    #                      each step copies the adapter to the CPU)
    previews: bool = False  # previews also render the average (samples/<step>/ema/)

    @property
    def on_gpu(self) -> bool:
        """The average takes GPU memory (the planner counts 4 bytes per adapter parameter)."""
        return self.enabled and not self.on_cpu

    def validate(self) -> None:
        check(0.0 < self.decay < 1.0, "ema.decay must be in (0, 1)")
        check(self.enabled or not (self.on_cpu or self.previews),
              "ema.on_cpu and ema.previews need ema.enabled")


@dataclass
class PreviewConfig:
    every_steps: int = 0  # 0 = off
    every_epochs: int = 0  # 0 = off
    caption: str = ""  # empty: the trigger word alone
    lyrics: str = "[Instrumental]"
    language: str = "en"
    bpm: int | None = None
    keyscale: str = ""
    timesignature: str = ""
    duration: float = 10.0
    seed: int = 42
    scales: list = field(default_factory=lambda: [0.5, 1.0, 1.5])
    steps: int | None = None  # None: the variant's default

    def validate(self) -> None:
        if self.every_steps < 0 or self.every_epochs < 0:
            raise ValueError("previews.every_steps and previews.every_epochs must be >= 0")
        if self.duration <= 0 or not self.scales:
            raise ValueError("previews.duration must be > 0 and previews.scales non-empty")


@dataclass
class TrainConfig:
    checkpoint_dirs: list = field(default_factory=list)
    model_variant: str = "turbo"
    base_model: str | None = None
    dataset_dir: str = ""
    output_dir: str = ""
    seed: int = 42
    trigger_word: str = ""
    resume_from: str | None = None
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    timesteps: TimestepConfig = field(default_factory=TimestepConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    best: BestConfig = field(default_factory=BestConfig)
    previews: PreviewConfig = field(default_factory=PreviewConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    from_estimate: str | None = None  # a gradient-sensitivity JSON: its targets and per-module ranks

    def validate(self) -> "TrainConfig":
        check(bool(self.checkpoint_dirs), "checkpoint_dirs must name at least one folder")
        check(bool(self.dataset_dir), "dataset_dir is required")
        check(bool(self.output_dir), "output_dir is required")
        for section in (self.adapter, self.optim, self.schedule, self.data, self.timesteps, self.loop,
                        self.checkpoint, self.best, self.previews, self.validation, self.ema):
            section.validate()
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def typed_field(name: str, value, kind) -> None:
    """A setting of the wrong JSON type, named: "validation.crops must be an integer, got '2'"."""
    words = {int: "an integer", (int, float): "a number", bool: "true or false"}
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {words.get(kind, kind)}, got {value!r}")


def _fill(cls, values: dict, prefix: str):
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown setting '{prefix}{sorted(unknown)[0]}'")
    kwargs = {}
    for name, value in values.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else None
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"{prefix}{name} must be an object")
            kwargs[name] = _fill(type(default), value, f"{prefix}{name}.")
        else:
            kwargs[name] = tuple(value) if name == "betas" else value
    return cls(**kwargs)


def config_from_dict(values: dict) -> TrainConfig:
    return _fill(TrainConfig, values, "").validate()


def merge_settings(base: dict, overrides: dict) -> dict:
    """Dotted overrides ({"optim.lr": 3e-4}) on top of a nested dict: CLI flags beat the file."""
    merged = json.loads(json.dumps(base))
    for dotted, value in overrides.items():
        node = merged
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return merged


def estimate_settings(path: str) -> dict:
    """An ``estimate`` JSON as settings: its target modules and per-module ranks."""
    try:
        data = safe_json.load_file(path)
        return {"adapter.modules": list(data["targets"]), "adapter.rank": int(data["base_rank"]),
                "adapter.rank_pattern": dict(data["rank_pattern"])}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not an estimate result ({error})") from error


def load_config(path: str | Path | None, overrides: dict, preset: dict | None = None) -> TrainConfig:
    """Preset (lowest), then the config file, then ``from_estimate``, then the flags (highest)."""
    base = {}
    if path:
        try:
            base = safe_json.load_file(confine(path, "--config"))
        except OSError as error:
            raise ValueError(f"{path}: cannot read the config ({error})") from error
        if not isinstance(base, dict):
            raise ValueError(f"{path}: the config must be a JSON object")
        base = base.get("config", base)  # a run.json holds the config under "config"
    layered = merge_settings(preset or {}, flatten(base))
    estimate = overrides.get("from_estimate") or flatten(base).get("from_estimate")
    if estimate:
        layered = merge_settings(layered, estimate_settings(str(confine(estimate, "from_estimate"))))
    return confine_paths(config_from_dict(merge_settings(layered, overrides)))


def confine_paths(config: TrainConfig) -> TrainConfig:
    """Every path the run reads or writes must pass the studio's roots (when it runs under the studio)."""
    confine(config.dataset_dir, "dataset_dir")
    confine(config.output_dir, "output_dir")
    for folder in config.checkpoint_dirs:
        confine(folder, "checkpoint_dirs")
    if config.resume_from and config.resume_from != "latest":
        confine(config.resume_from, "resume_from")
    return config


def flatten(values: dict, prefix: str = "") -> dict:
    """{"optim": {"lr": 1}} -> {"optim.lr": 1}, so a file overrides a preset field by field."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and key not in ("rank_pattern", "alpha_pattern"):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
