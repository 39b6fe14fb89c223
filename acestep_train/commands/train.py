"""``train``: LoRA / LoKr training on preprocessed tensors (Lightning Fabric; several GPUs via --devices).

Every setting is a flag and a field of the JSON config (``--config``, e.g. a previous run.json);
flags given on the command line override the file.
"""

from __future__ import annotations

import argparse

#: flag -> (dotted config field, type)
FLAGS = {
    "--adapter-type": ("adapter.type", str), "--targets": ("adapter.targets", str),
    "--rank": ("adapter.rank", int), "--alpha": ("adapter.alpha", float), "--dropout": ("adapter.dropout", float),
    "--linear-dim": ("adapter.linear_dim", int), "--linear-alpha": ("adapter.linear_alpha", float),
    "--factor": ("adapter.factor", int), "--optimizer": ("optim.name", str), "--lr": ("optim.lr", float),
    "--weight-decay": ("optim.weight_decay", float), "--grad-clip": ("optim.grad_clip", float),
    "--scheduler": ("schedule.name", str), "--warmup-steps": ("schedule.warmup_steps", int),
    "--cycles": ("schedule.cycles", int), "--batch-size": ("data.batch_size", int),
    "--grad-accum": ("data.grad_accum", int), "--max-latent-length": ("data.max_latent_length", int),
    "--repeats": ("data.repeats", int), "--timestep-sampler": ("timesteps.sampler", str),
    "--timestep-mu": ("timesteps.mu", float), "--timestep-sigma": ("timesteps.sigma", float),
    "--cfg-dropout": ("timesteps.cfg_dropout", float), "--min-snr-gamma": ("timesteps.min_snr_gamma", float),
    "--epochs": ("loop.epochs", int), "--nan-patience": ("loop.nan_patience", int),
    "--devices": ("loop.devices", int), "--num-nodes": ("loop.num_nodes", int),
    "--strategy": ("loop.strategy", str),
    "--accelerator": ("loop.accelerator", str), "--precision": ("loop.precision", str),
    "--base-weights": ("loop.base_weights", str),
    "--save-every": ("checkpoint.save_every_epochs", int), "--save-every-steps": ("checkpoint.save_every_steps", int),
    "--keep-last": ("checkpoint.keep_last", int), "--best-window": ("best.window", int),
    "--best-min-delta": ("best.min_delta", float), "--track-best-from": ("best.track_from_epoch", int),
    "--early-stop-patience": ("best.patience", int), "--seed": ("seed", int), "--trigger-word": ("trigger_word", str),
    "--model-variant": ("model_variant", str), "--base-model": ("base_model", str),
    "--preview-every-steps": ("previews.every_steps", int), "--preview-every-epochs": ("previews.every_epochs", int),
    "--preview-caption": ("previews.caption", str), "--preview-lyrics": ("previews.lyrics", str),
    "--preview-duration": ("previews.duration", float), "--preview-seed": ("previews.seed", int),
    "--preview-steps": ("previews.steps", int), "--from-estimate": ("from_estimate", str),
    "--val-every-steps": ("validation.every_steps", int), "--val-fraction": ("validation.fraction", float),
    "--val-crops": ("validation.crops", int), "--val-timesteps": ("validation.timesteps", int),
    "--val-seed": ("validation.seed", int),
    "--ema-decay": ("ema.decay", float),
    "--dataset-dir": ("dataset_dir", str), "--output-dir": ("output_dir", str), "--resume-from": ("resume_from", str),
}
SWITCHES = {"--mlp": "adapter.mlp", "--decompose-both": "adapter.decompose_both",
            "--gradient-checkpointing": "loop.gradient_checkpointing", "--ema": "ema.enabled",
            "--ema-on-cpu": "ema.on_cpu", "--ema-previews": "ema.previews"}
#: flag -> dotted field set to False
OFF_SWITCHES = {"--no-ema-warmup": "ema.warmup"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="F", help="JSON settings (a run.json works); flags override it")
    parser.add_argument("--preset", metavar="NAME|PATH",
                        help="a GPU preset (8gb, 12gb, 16gb, 24gb, 48gb, quick_test, high_quality or a file); "
                             "'auto' picks by the detected GPU")
    parser.add_argument("--checkpoint-dir", action="append", metavar="DIR")
    parser.add_argument("--archive-previous", action="store_true",
                        help="the run folder holds an earlier run: move it into <output>/archive/<time>/ and start "
                             "fresh (without this, a fresh run there is refused; --resume-from latest continues it)")
    for flag, (field, kind) in FLAGS.items():
        parser.add_argument(flag, type=kind, default=None, help=f"config: {field}")
    for flag, field in SWITCHES.items():
        parser.add_argument(flag, action="store_const", const=True, default=None, help=f"config: {field}")
    parser.add_argument("--val-song", action="append", metavar="NAME",
                        help="hold this song out for validation (sample id, tensor file or audio file name; "
                             "repeat for more); config: validation.songs")
    for flag, field in OFF_SWITCHES.items():
        parser.add_argument(flag, action="store_const", const=False, default=None, help=f"config: {field} = false")


def overrides(args: argparse.Namespace) -> dict:
    values = {}
    for flag, (field, _) in FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            values[field] = value
    for flag, field in SWITCHES.items():
        if getattr(args, flag[2:].replace("-", "_")):
            values[field] = True
    for flag, field in OFF_SWITCHES.items():
        if getattr(args, flag[2:].replace("-", "_")) is False:
            values[field] = False
    if args.checkpoint_dir:
        values["checkpoint_dirs"] = args.checkpoint_dir
    if args.val_song:
        values["validation.songs"] = args.val_song
    return values


def chosen_preset(args: argparse.Namespace):
    """The ``--preset`` (``auto``: by the detected GPU), or None."""
    if not args.preset:
        return None
    from acestep_train.gpu import detect_gpus
    from acestep_train.presets import load_preset, pick_preset

    if args.preset != "auto":
        return load_preset(args.preset)
    gpus = detect_gpus()
    preset = pick_preset(gpus[0].total_gb if gpus else None)
    print(f"preset: {preset.name} ({preset.title})")
    return preset


def preset_settings(preset, adapter_type: str) -> dict | None:
    """The preset's settings for ``adapter_type`` on the 2 B model (None without a preset)."""
    return preset.for_adapter(adapter_type) if preset else None


def resolve_config(args: argparse.Namespace):
    """Preset, file, flags; an XL model takes the tier's XL settings and is refused when the tier cannot hold it."""
    from acestep_train.models import model_size
    from acestep_train.presets import check_fits
    from acestep_train.train.config import load_config

    preset = chosen_preset(args)
    adapter_type = args.adapter_type or "lora"
    config = load_config(args.config, overrides(args), preset_settings(preset, adapter_type))
    if preset is None or model_size(config.checkpoint_dirs, config.model_variant, config.base_model) != "xl":
        return config
    config = load_config(args.config, overrides(args), preset.for_model(adapter_type, "xl"))
    plan = check_fits(preset, config, "xl")
    print(f"preset {preset.name} for the XL DiT: planner peak {plan['total']:.1f} GB of {preset.vram_gb:.0f} GB")
    return config


def counted(number: int, noun: str) -> str:
    """``1 step``, ``2 steps``, ``0 full epochs``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from acestep_train.train.setup import run_training
    from acestep_train.train.errors import TrainingError

    config = resolve_config(args)
    # Fabric's DDP launcher re-runs this command in child processes; they must find the package.
    repo = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    try:
        result = run_training(config, archive_previous=args.archive_previous)
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if result["global_rank"] != 0:
        return 0
    print(f"trained {counted(result['steps'], 'step')} ({counted(result['epochs'], 'full epoch')}); final adapter "
          f"({result['final_from']}): {result['final']}" + (" (stopped on request)" if result["stopped"] else "")
          + (f"; its EMA: {result['final_ema']}" if "final_ema" in result else ""))
    return 0
