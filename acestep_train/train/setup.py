"""What a run needs before its first step, and the checks around it.

``run_training`` is the single entry the CLI (and, through the CLI, the UI) calls: it builds
Lightning Fabric (precision by device, strategy for several GPUs), launches, and fits.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path

import torch

from acestep_train.atomic import atomic_write_json


def fabric_precision(requested: str | None, accelerator: str) -> str:
    if requested:
        return requested
    if accelerator in ("cuda", "gpu", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def make_fabric(loop, output_dir: Path):
    import lightning as L
    from lightning.fabric.loggers import TensorBoardLogger

    precision = fabric_precision(loop.precision, loop.accelerator)
    logger = TensorBoardLogger(root_dir=str(output_dir / "tb"), name="", version="")
    return L.Fabric(accelerator=loop.accelerator, devices=loop.devices, strategy=loop.strategy,
                    precision=precision, loggers=[logger])


def run_training(config) -> dict:
    from lightning.fabric.utilities.seed import seed_everything

    from acestep_train.train.trainer import Trainer

    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    fabric = make_fabric(config.loop, output)
    fabric.launch()
    seed_everything(config.seed + fabric.global_rank, verbose=False)
    trainer = Trainer(config, fabric)
    trainer.setup()
    return trainer.fit()


def weight_dtype(fabric) -> torch.dtype:
    precision = str(fabric._precision.precision) if hasattr(fabric, "_precision") else "32-true"
    if precision.startswith("bf16"):
        return torch.bfloat16
    if precision.startswith("16"):
        return torch.float16
    return torch.float32


def build_model(config, fabric):
    """(model info, its DiT config dict, the DiT on the device, null_condition_emb or None)."""
    from acestep_train.models import find_model, load_components
    from acestep_train.models.discovery import read_json
    from acestep_train.models.null_condition import load_null_condition

    info = find_model(config.checkpoint_dirs, config.model_variant, config.base_model)
    if info.variant.family is None:
        raise ValueError(f"{info.path}: cannot tell whether this is turbo, base or sft; pass --base-model")
    transformer = load_components(info, ["transformer"], fabric.device, weight_dtype(fabric)).transformer
    if config.loop.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.train()
    cfg_dropout = config.timesteps.cfg_dropout
    needs_null = (cfg_dropout is None and not info.variant.is_turbo) or bool(cfg_dropout)
    null = load_null_condition(info) if needs_null else None
    return info, read_json(info.files.transformer_config), transformer, null


def check_dataset(config, info):
    """The tensor folder, refused unless its manifest was made by this model's conditioning."""
    from acestep_train.models.fingerprint import conditioning_fingerprint
    from acestep_train.train.data import TensorFolder

    folder = TensorFolder(config.dataset_dir)
    folder.manifest.check_model(conditioning_fingerprint(info), info.name, config.dataset_dir)
    digest = hashlib.sha256(json.dumps(folder.manifest.samples, sort_keys=True).encode()).hexdigest()
    return folder, digest


def check_adapter_changed(adapter) -> None:
    """Refuse to call a run a success when the adapter applies no change to the model."""
    largest = max(float(d.abs().max()) for d in adapter.deltas().values())
    if not math.isfinite(largest) or largest == 0.0:
        from acestep_train.train.trainer import TrainingError

        raise TrainingError(f"the trained adapter changes nothing (largest weight change {largest}); "
                            "not reporting success")


def write_run_json(trainer) -> None:
    import diffusers
    import lightning
    import peft

    atomic_write_json(Path(trainer.config.output_dir) / "run.json", {
        "config": asdict(trainer.config),
        "resolved": {"flow": asdict(trainer.flow), "total_steps": trainer.total_steps,
                     "steps_per_epoch": trainer.steps_per_epoch, "variant": trainer.info.variant.name,
                     "precision": str(trainer.fabric._precision.precision), "world_size": trainer.fabric.world_size},
        "model": {"name": trainer.info.name, "path": str(trainer.info.path),
                  "fingerprint": trainer.folder.manifest.model_fingerprint},
        "dataset_hash": trainer.dataset_hash,
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "peft": peft.__version__,
                     "lightning": lightning.__version__},
    })


def memory_plan(trainer) -> tuple[dict, str | None]:
    """(planner breakdown in GB, a warning if the first GPU cannot hold it with 1 GB to spare)."""
    from acestep_train.gpu import detect_gpus
    from acestep_train.vram import DitShape, RunShape, estimate, fit_warning

    parameters = sum(p.numel() for n, p in trainer.adapter.transformer.named_parameters() if not p.requires_grad)
    dit = DitShape.from_config(trainer.model_config, parameters)
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(weight_dtype(trainer.fabric), "fp32")
    crop = trainer.crop or max(trainer.folder.frames.values())
    run = RunShape(sum(p.numel() for p in trainer.adapter.params), trainer.config.optim.name,
                   trainer.config.data.batch_size, max(crop, 2),
                   gradient_checkpointing=trainer.config.loop.gradient_checkpointing, precision=precision)
    plan = estimate(dit, run)
    gpus = detect_gpus() if trainer.fabric.device.type == "cuda" else []
    return plan, fit_warning(plan["total"], gpus[0].total_gb) if gpus else None
