"""The training-overhead benchmark harness runs at tiny size (no timing asserted)."""

from __future__ import annotations

from bench.train_overhead import main


def test_train_overhead_harness(tmp_path):
    figures = main(["--hidden", "64", "--layers", "2", "--frames", "32", "--batch", "2", "--steps", "4",
                    "--rounds", "2", "--results-dir", str(tmp_path)])
    assert figures["our_step_s"] > 0 and figures["bare_step_s"] > 0 and figures["overhead_ratio"] > 0
    low, high = figures["ratio_range"]
    assert figures["rounds"] == 2 and low <= figures["overhead_ratio"] <= high
    assert low <= figures["ratio_iqr"][0] <= figures["ratio_iqr"][1] <= high
    assert (tmp_path / "train_overhead_cpu.json").is_file()
