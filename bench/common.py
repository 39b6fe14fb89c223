"""Shared helpers for benchmarks: machine description and result files.

Each benchmark prints its figures and writes ``bench/results/<name>.json`` plus one
Markdown table row in ``bench/results/<name>.md``, stamped with machine, versions and date.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import torch

    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    return info


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(name: str, figures: dict, results_dir: Path = RESULTS) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "date": datetime.date.today().isoformat(), "machine": machine(), **figures}
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    row = " | ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, (dict, list)))
    (results_dir / f"{name}.md").write_text(f"| {record['date']} | {record['machine']['device']} | {row} |\n")
    return path
