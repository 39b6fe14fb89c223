"""``estimate``: rank DiT layers by gradient sensitivity to your songs; JSON usable by ``train --from-estimate``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint-dir", required=True, action="append", metavar="DIR")
    parser.add_argument("--model-variant", required=True)
    parser.add_argument("--base-model")
    parser.add_argument("--dataset-dir", required=True, metavar="DIR", help="preprocessed tensors")
    parser.add_argument("--output", required=True, metavar="F.json")
    parser.add_argument("--batches", type=int, default=8, help="songs per timestep focus")
    parser.add_argument("--max-latent-length", type=int, default=1500)
    parser.add_argument("--top-fraction", type=float, default=0.5, help="share of layers to train")
    parser.add_argument("--base-rank", type=int, default=16)
    parser.add_argument("--device")


def run(args: argparse.Namespace) -> int:
    from acestep_train.atomic import atomic_write_json
    from acestep_train.models import find_model, load_components
    from acestep_train.models.fingerprint import conditioning_fingerprint
    from acestep_train.train.data import TensorFolder
    from acestep_train.train.estimate import EstimateSettings, fisher_scores, to_training

    info = find_model(args.checkpoint_dir, args.model_variant, args.base_model)
    folder = TensorFolder(args.dataset_dir)
    folder.manifest.check_model(conditioning_fingerprint(info), info.name, args.dataset_dir)
    settings = EstimateSettings(args.batches, args.max_latent_length, args.top_fraction, args.base_rank)
    transformer = load_components(info, ["transformer"], args.device).transformer
    result = to_training(fisher_scores(transformer, folder, settings), settings)
    atomic_write_json(args.output, {"model": info.name, **result})
    print(f"{'module':45s} {'score':>12s}")
    for entry in result["modules"][:20]:
        mark = "*" if entry["name"] in result["targets"] else " "
        print(f"{mark} {entry['name']:43s} {entry['score']:12.4e}")
    print(f"{len(result['targets'])} of {len(result['modules'])} layers selected (*); wrote {args.output}")
    return 0

