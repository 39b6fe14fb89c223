"""What a run needs before its first step, and the checks around it.

``run_training`` is the single entry the CLI (and, through the CLI, the UI) calls: it builds
Lightning Fabric (precision by device, strategy for several GPUs), launches, builds the run's
parts (model, adapter, data, optimizer, memory plan, run record) and hands them to the loop.
Data flows one way: this module imports the loop; the loop never imports this module.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import torch

from acestep_train.train.outputs import check_adapter_changed  # noqa: F401 (public here too)
from acestep_train.train.parts import RunParts
from acestep_train.train.precision import Precision, fabric_precision, resolve_precision  # noqa: F401


def make_fabric(loop, output_dir: Path, precision: Precision):
    import lightning as L
    from lightning.fabric.loggers import TensorBoardLogger

    logger = TensorBoardLogger(root_dir=str(output_dir / "tb"), name="", version="")
    return L.Fabric(accelerator=loop.accelerator, devices=loop.devices, num_nodes=loop.num_nodes,
                    strategy=loop.strategy, precision=precision.fabric, loggers=[logger])


def run_training(config, archive_previous: bool = False) -> dict:
    """Train into ``config.output_dir``; global rank 0 holds its lock throughout (see ``run_folder``).

    ``archive_previous``: move an earlier run in that folder into ``archive/<time>/`` first.
    Several processes (``--devices``) and machines (``--num-nodes``) meet first; then only global
    rank 0 checks, locks, reads and writes the run folder, and tells the others the outcome."""
    from lightning.fabric.utilities.seed import seed_everything

    from acestep_train.train.nodes import check_rendezvous
    from acestep_train.train.trainer import Trainer

    check_rendezvous(config.loop.num_nodes)
    precision = resolve_precision(config.loop.precision, config.loop.accelerator)
    fabric = make_fabric(config.loop, Path(config.output_dir), precision)
    fabric.launch()
    held = claim_run_folder(fabric, config, archive_previous)
    try:
        config = resumed_layout(fabric, config)
        seed_everything(config.seed + fabric.global_rank, verbose=False)
        return Trainer(config, fabric, build_parts(config, fabric, precision)).fit()
    finally:
        for lock in held:
            lock.release()


def claim_run_folder(fabric, config, archive_previous: bool) -> list:
    """Global rank 0 checks and locks the run folder (before anything is built or written there);
    every rank gets its refusal. Returns the lock this process holds ([] on the other ranks)."""
    from acestep_train.train.checkpoints import check_run_folders
    from acestep_train.train.nodes import from_rank_zero
    from acestep_train.train.run_folder import prepare_run_folder

    output, held = Path(config.output_dir), []

    def claim():
        check_run_folders(output)
        output.mkdir(parents=True, exist_ok=True)
        lock, archived = prepare_run_folder(output, config.resume_from, archive_previous)
        held.append(lock)
        if archived is not None:
            print(f"moved the earlier run in {output} to {archived}", flush=True)

    from_rank_zero(fabric, claim)
    return held


def resumed_layout(fabric, config):
    """A resume on another number of processes keeps the checkpoint's global batch (``nodes.keep_global_batch``)."""
    from acestep_train import safe_json
    from acestep_train.train.checkpoints import resolve_resume
    from acestep_train.train.nodes import from_rank_zero, keep_global_batch

    if not config.resume_from:
        return config
    output = Path(config.output_dir)
    saved = from_rank_zero(fabric, lambda: safe_json.load_file(resolve_resume(config.resume_from, output)
                                                               / "counters.json"))
    config, message = keep_global_batch(config, saved, fabric.world_size)
    if message and fabric.is_global_zero:
        print(message, flush=True)
    return config


def build_parts(config, fabric, precision: Precision) -> RunParts:
    """Model, adapter, data, schedule and optimizer (set up by Fabric), the memory plan, the run record."""
    from acestep_train.train.adapters import Adapter
    from acestep_train.train.cross_mask import CrossAttentionMask
    from acestep_train.train.flow import resolve
    from acestep_train.train.holdout import choose_split
    from acestep_train.train.optim import make_optimizer, make_schedule, steps_per_epoch
    from acestep_train.train.trainer import Trainable

    info, model_config, transformer, null = build_model(config, fabric.device, precision)
    folder, digest = check_dataset(config, info)
    adapter = Adapter(transformer, config.adapter)
    cross_mask = CrossAttentionMask(transformer)
    flow = resolve(config.timesteps, info.variant.is_turbo, model_config)
    crop = config.data.max_latent_length - config.data.max_latent_length % 2
    split = choose_split(folder.files, folder.manifest, config.validation)
    windows = len(split.train) * config.data.repeats
    per_epoch = steps_per_epoch(windows, config.data.batch_size, config.data.grad_accum, fabric.world_size)
    total = per_epoch * config.loop.epochs
    check_validation_runs(config.validation, total)
    optimizer = make_optimizer(config.optim, adapter.params, fabric.device)
    model, optimizer = fabric.setup(Trainable(transformer, adapter.network), optimizer)
    scheduler = make_schedule(config.schedule, optimizer, total)
    plan, warning = memory_plan(config, model_config, adapter, precision, crop or max(folder.frames.values()),
                                fabric.device)
    parts = RunParts(info, model_config, adapter, null, folder, digest, flow, crop, per_epoch, total, model,
                     optimizer, scheduler, precision, cross_mask, plan, warning, split=split)
    parts.run_record = run_record(config, parts, fabric.world_size)
    return parts


def check_validation_runs(validation, total: int) -> None:
    """Validation first runs at step ``every_steps``: past the run's last step it would never run, and the
    songs held out for it would have trained nothing."""
    if validation.enabled and validation.every_steps > total:
        raise ValueError(f"validation.every_steps is {validation.every_steps} but this run has {total} optimizer "
                         f"steps: validation would never run and the held-out songs would train nothing; "
                         f"set it to {total} or fewer")


def build_model(config, device, precision: Precision):
    """(model info, its DiT config dict, the DiT on the device, null_condition_emb or None)."""
    from acestep_train.models import find_model, load_components
    from acestep_train.models.discovery import read_json
    from acestep_train.models.null_condition import load_null_condition

    info = find_model(config.checkpoint_dirs, config.model_variant, config.base_model)
    if info.variant.family is None:
        raise ValueError(f"{info.path}: cannot tell whether this is turbo, base or sft; pass --base-model")
    transformer = load_components(info, ["transformer"], device, precision.weights).transformer
    if config.loop.base_weights == "int8":
        from acestep_train.train.int8 import quantize_base

        quantize_base(transformer, device)
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


def run_record(config, parts: RunParts, world_size: int) -> dict:
    """What ``run.json`` records: the config, what was resolved from it, the model, data and versions."""
    import diffusers
    import lightning
    import peft

    return {
        "config": asdict(config),
        "resolved": {"flow": asdict(parts.flow), "total_steps": parts.total_steps,
                     "steps_per_epoch": parts.steps_per_epoch, "variant": parts.info.variant.name,
                     "precision": parts.precision.fabric, "weights_dtype": str(parts.precision.weights),
                     "inputs_dtype": str(parts.precision.inputs), "world_size": world_size,
                     "split": parts.split.as_dict()},
        "model": {"name": parts.info.name, "path": str(parts.info.path),
                  "fingerprint": parts.folder.manifest.model_fingerprint},
        "dataset_hash": parts.dataset_hash,
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "peft": peft.__version__,
                     "lightning": lightning.__version__},
    }


def memory_plan(config, model_config: dict, adapter, precision: Precision, crop: int,
                device: torch.device) -> tuple[dict, str | None]:
    """(planner breakdown in GB, a warning if the first GPU cannot hold it with 1 GB to spare)."""
    from acestep_train.gpu import detect_gpus
    from acestep_train.vram import DitShape, estimate, fit_warning, run_shape

    parameters = sum(p.numel() for p in adapter.transformer.parameters() if not p.requires_grad)
    dit = DitShape.from_config(model_config, parameters)
    run = run_shape(config, sum(p.numel() for p in adapter.params), max(crop, 2), precision.planner_name)
    plan = estimate(dit, run)
    gpus = detect_gpus() if device.type == "cuda" else []
    return plan, fit_warning(plan["total"], gpus[0].total_gb) if gpus else None
