"""kill -9 a tiny training run at random points of its progress: resume from "latest" works and loses at most one save.

The kill follows the run's progress (a random file-system operation after its first checkpoint,
at the latest two steps before its end), never a clock, so it lands mid-run on any machine.
A few trials here; ``python -m bench crash_resume --trials 20`` runs the long version.
"""

from __future__ import annotations

import random

import pytest

from acestep_train.atomic_dir import is_complete
from bench.crash_resume import MAX_OPS, SAVE_EVERY, Runner, prepare, run_trial


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    models, tensors = prepare(root)
    runner = Runner()
    yield runner, models, tensors, root
    runner.close()


def test_kill_9_at_random_moments_then_resume_from_latest(setup):
    runner, models, tensors, root = setup
    rng = random.Random(1)
    for index in range(3):
        output = root / f"run{index}"
        trial = run_trial(runner, models, tensors, output, rng.randint(1, MAX_OPS), epochs=4)
        assert trial.error == "" and trial.resumed, trial
        assert trial.killed_at, trial  # the kill switch fired (the run did not end on its own)
        assert trial.latest is not None and trial.lost_steps <= SAVE_EVERY, trial
        assert trial.resumed_first_step == trial.latest + 1, trial
        assert (output / "final").is_dir() and is_complete(output / "final")
        steps = [p for p in (output / "checkpoints").iterdir() if p.name.isdigit()]
        assert steps and all(is_complete(p) for p in steps)  # the finished run leaves no partial step folder
