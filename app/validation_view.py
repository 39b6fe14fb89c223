"""The Train tab's words for a run's validation: the latest held-out loss beside the base model's, the best,
and what an evaluation costs (seconds, and as a fraction of a training step and of the training time)."""

from __future__ import annotations


def cost_words(record: dict) -> str:
    """``0.42 s each, 1.3x a training step (+13% of training time)``; the fractions only once a step was timed."""
    words = f"{record['seconds']:.2f} s each"
    if "fraction_of_step" in record:
        words += f", {record['fraction_of_step']:.2g}x a training step (+{100 * record['overhead']:.3g}% of training time)"
    return words


def validation_lines(events: list[dict]) -> list[str]:
    """One line for the status box, or none when the run holds no song out."""
    checks = [e for e in events if e["event"] == "validation"]
    if not checks:
        return []
    last = checks[-1]
    best = next((e for e in reversed(checks) if e["new_best"]), last)  # what best/ holds
    return [f"validation loss {last['loss']:.4f} at step {last['step']} (base model {last['base_loss']:.4f}); "
            f"best {best['loss']:.4f} at step {best['step']}; {cost_words(last)}"]
