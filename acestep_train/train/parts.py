"""What setup hands the training loop: everything built before the first step, in one record.

Data flows one way: ``setup`` builds a ``RunParts`` and passes it to ``Trainer``; the loop never
reaches back into setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunParts:
    info: Any  # acestep_train.models.ModelInfo
    model_config: dict
    adapter: Any  # acestep_train.train.adapters.Adapter
    null_condition: Any  # torch.Tensor | None
    folder: Any  # acestep_train.train.data.TensorFolder
    dataset_hash: str
    flow: Any  # acestep_train.train.flow.Flow
    crop: int
    steps_per_epoch: int
    total_steps: int
    model: Any  # the Fabric-wrapped Trainable
    optimizer: Any
    scheduler: Any
    precision: Any  # acestep_train.train.precision.Precision
    cross_mask: Any
    memory_plan: dict = field(default_factory=dict)
    memory_warning: str | None = None
    run_record: dict = field(default_factory=dict)
    split: Any = None  # acestep_train.train.holdout.Split: the songs that train and those held out
