"""The end of a run: refuse an unchanged adapter, copy the chosen adapter to ``final``."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from acestep_train.train.errors import TrainingError


def check_adapter_changed(adapter) -> None:
    """Refuse to call a run a success when the adapter applies no change to the model."""
    largest = max(float(d.abs().max()) for d in adapter.deltas().values())
    if not math.isfinite(largest) or largest == 0.0:
        raise TrainingError(f"the trained adapter changes nothing (largest weight change {largest}); "
                            "not reporting success")


def copy_adapter(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.suffix in (".safetensors", ".json") and path.name != "counters.json":
            shutil.copy2(path, target / path.name)
