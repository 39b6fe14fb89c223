"""The end of a run: refuse an adapter that changes nothing."""

from __future__ import annotations

import math

from acestep_train.train.errors import TrainingError


def check_adapter_changed(adapter) -> None:
    """Refuse to call a run a success when the adapter applies no change to the model."""
    largest = max(float(d.abs().max()) for d in adapter.deltas().values())
    if not math.isfinite(largest) or largest == 0.0:
        raise TrainingError(f"the trained adapter changes nothing (largest weight change {largest}); "
                            "not reporting success")
