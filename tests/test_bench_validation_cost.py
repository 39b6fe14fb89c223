"""The validation-cost benchmark runs at tiny size and reads its figures from the run's own events."""

from __future__ import annotations

from bench.validation_cost import main


def test_validation_cost_harness(tmp_path):
    figures = main(["--hidden", "64", "--layers", "2", "--frames", "32", "--batch", "2", "--held", "2",
                    "--timesteps", "2", "--every", "2", "--epochs", "2", "--results-dir", str(tmp_path)])
    assert figures["probes"] == 2 * 1 * 2 and figures["evaluations"] == figures["steps"] // 2 >= 2
    assert figures["eval_s"] > 0 and figures["step_s"] > 0 and figures["fraction_of_step"] > 0
    assert (tmp_path / "validation_cost_cpu.json").is_file()
