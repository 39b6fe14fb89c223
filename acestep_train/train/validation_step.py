"""The trainer's validation step: rank 0 scores the held-out songs (``validation.Validator``), every rank
learns the result, ``best/`` follows it and early stopping counts evaluations.

Kept apart from ``trainer.py`` so the loop reads as the loop; these functions take the ``Trainer`` whose
state (counters, best tracker, events) they update.
"""

from __future__ import annotations

from functools import partial

import torch

from acestep_train.train.samples import adapter_off
from acestep_train.train.validation import Validator, cost


def make_validator(trainer) -> Validator | None:
    """The held-out songs' evaluator (rank 0 evaluates; the others only learn the result), or None."""
    if not trainer.split.held_out:
        return None
    return Validator(trainer.folder, trainer.split.held_out, trainer.config.validation, trainer.flow,
                     trainer.crop, trainer.cross_mask, trainer.fabric.device, trainer.inputs_dtype)


def precise_forward(fabric, model, **inputs) -> torch.Tensor:
    """The model's forward with Fabric's precision, on this rank alone (not through DDP's collectives)."""
    precision = fabric.strategy.precision
    inputs = precision.convert_input(inputs)
    with precision.forward_context():
        return precision.convert_output(model.module(**inputs))


def evaluation(trainer) -> dict:
    """Rank 0's evaluation of the current weights, as the ``validation`` event's fields."""
    forward = partial(precise_forward, trainer.fabric, trainer.model)
    result = trainer.validator.evaluate(forward, trainer.model, partial(adapter_off, trainer.adapter))
    return {"step": trainer.counters.step, "epoch": trainer.counters.epoch, "loss": result.loss,
            "base_loss": result.base_loss, "seconds": round(result.seconds, 4), "passes": result.passes,
            **cost(result.seconds, trainer.mean_step_seconds(), trainer.config.validation.every_steps)}


def validate(trainer) -> bool:
    """Validation loss on rank 0, shared with every rank; a new best is saved; True: stop early."""
    fabric, counters = trainer.fabric, trainer.counters
    record = fabric.broadcast(evaluation(trainer) if fabric.is_global_zero else None, src=0)
    new_best, stop = trainer.best.update(counters.epoch, record["loss"])
    trainer.emit("validation", **record, new_best=new_best, best=trainer.best.best)
    if fabric.is_global_zero:
        fabric.log_dict({"validation_loss": record["loss"], "base_validation_loss": record["base_loss"]},
                        step=counters.step)
    if new_best:
        trainer.save_adapter(trainer.output / "best", {"epoch": counters.epoch, "validation_loss": record["loss"],
                                                       "base_validation_loss": record["base_loss"]})
    if stop:  # finish() saves the last checkpoint
        trainer.emit("early_stop", step=counters.step, message=f"no new best validation loss for "
                     f"{trainer.best.since_best} evaluations: stopping")
    return stop
