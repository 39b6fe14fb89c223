"""``python -m acestep_train <command>``: the CLI twin of every UI action.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``. Command modules keep their top-level imports light (no torch),
so ``--help`` is instant; heavy imports happen inside ``run``.

To add a command: write the module, then add one line to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("acestep_train.commands.models", "list the models found under checkpoint roots"),
    "demo-model": ("acestep_train.commands.demo_model", "write the tiny random-init ACE-Step 1.5 stack"),
    "download": ("acestep_train.commands.download", "download official ACE-Step 1.5 checkpoints"),
    "dataset": ("acestep_train.commands.dataset", "scan a folder of songs and sidecars; write dataset.json"),
    "split": ("acestep_train.commands.split", "cut long songs into N-second segments"),
    "analyze-audio": ("acestep_train.commands.analyze_audio", "BPM, key and duration of audio files"),
    "preprocess": ("acestep_train.commands.preprocess", "turn songs into training tensors"),
    "train": ("acestep_train.commands.train", "train a LoRA or LoKr adapter on preprocessed tensors"),
    "estimate": ("acestep_train.commands.estimate", "rank layers by gradient sensitivity to your songs"),
    "export": ("acestep_train.commands.export", "export an adapter for ACE-Step, ComfyUI or diffusers"),
    "merge": ("acestep_train.commands.merge", "merge an adapter into the base model's weights"),
    "generate": ("acestep_train.commands.generate", "generate a clip, optionally with an adapter"),
    "compare": ("acestep_train.commands.compare", "listening bench: render checkpoints x strengths as a grid"),
}


class CliError(Exception):
    """A user-facing error: printed as one clear line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m acestep_train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        # Library errors are written to name the file and the reason; show them plainly.
        print(f"error: {error}", file=sys.stderr)
        return 2
