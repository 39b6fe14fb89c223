"""Dataset samples -> preprocessing items (the caption a sample trains with, its song text)."""

from __future__ import annotations

import random
from pathlib import Path

from acestep_train.dataset import DatasetMeta, Sample, ScanOptions, load_dataset, scan_folder
from acestep_train.dataset.scan import TRAIN_MIN_SECONDS, too_short
from acestep_train.dataset.record import song_text, training_caption
from acestep_train.preprocess.plan import PreprocessItem, sample_id_for


def items_from_samples(samples: list[Sample], meta: DatasetMeta, root: Path, seed: int = 0,
                       min_seconds: float = TRAIN_MIN_SECONDS) -> tuple[list[PreprocessItem], list[tuple[str, str]]]:
    """(items to encode, [(file, reason)] for unusable samples).

    The genre-vs-caption choice is drawn once per sample here, seeded, so a rerun makes the
    same choice and the content hash (hence the resume) is stable.
    """
    rng = random.Random(seed)
    items, unusable = [], []
    for sample in samples:
        if not sample.usable:
            unusable.append((str(sample.audio_path), sample.status))
            continue
        short = too_short(sample.duration, min_seconds) if sample.duration else None  # a dataset.json's duration
        if short:
            unusable.append((str(sample.audio_path), short))
            continue
        caption = training_caption(sample, meta.custom_tag, meta.tag_position, meta.genre_ratio, rng)
        if not caption:
            unusable.append((str(sample.audio_path), "no caption (and no activation tag)"))
            continue
        items.append(PreprocessItem(sample_id_for(sample.audio_path, root), sample.audio_path,
                                    song_text(sample, caption), sample.holdout))
    return items, unusable


def items_from_source(audio_dir: str | None, dataset_json: str | None, meta_overrides: dict,
                      txt_mode: str = "caption", min_seconds: float = TRAIN_MIN_SECONDS
                      ) -> tuple[list[PreprocessItem], list[tuple[str, str]]]:
    """Items from a folder scan or a dataset.json; CLI flags override the dataset's tag settings; songs shorter
    than ``min_seconds`` are unusable ("too short (1.0 s < 10 s)")."""
    if (audio_dir is None) == (dataset_json is None):
        raise ValueError("give exactly one of --audio-dir or --dataset-json")
    if dataset_json is not None:
        meta, samples = load_dataset(dataset_json)
        root = Path(dataset_json).resolve().parent
    else:
        root = Path(audio_dir).resolve()
        meta, samples = DatasetMeta(root.name), scan_folder(root, ScanOptions(txt_mode, min_seconds))
    for key, value in meta_overrides.items():
        if value is not None:
            setattr(meta, key, value)
    DatasetMeta.__post_init__(meta)  # validate the overridden values once
    return items_from_samples(samples, meta, root, min_seconds=min_seconds)
