"""Datasets: sample records, sidecars (json/txt/lyrics/csv), folder scans, dataset.json, analysis, splitting."""

from acestep_train.dataset.dataset_json import DatasetMeta, load_dataset, save_dataset
from acestep_train.dataset.record import Sample, apply_tag, song_text, training_caption
from acestep_train.dataset.scan import ScanOptions, scan_folder
from acestep_train.dataset.sidecars import write_sidecar

__all__ = ["DatasetMeta", "Sample", "ScanOptions", "apply_tag", "load_dataset", "save_dataset", "scan_folder",
           "song_text", "training_caption", "write_sidecar"]
