"""Errors of a training run (a module of its own so setup and the loop share it without importing each other)."""


class TrainingError(RuntimeError):
    """A run that must not be reported as a success."""
