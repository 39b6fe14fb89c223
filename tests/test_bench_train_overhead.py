"""The training-overhead benchmark harness runs at tiny size (no timing asserted)."""

from __future__ import annotations

from bench.train_overhead import main


def test_train_overhead_harness(tmp_path):
    figures = main(["--hidden", "64", "--layers", "2", "--frames", "32", "--batch", "2", "--steps", "4",
                    "--rounds", "1", "--results-dir", str(tmp_path)])
    assert figures["our_step_s"] > 0 and figures["bare_step_s"] > 0 and figures["overhead_ratio"] > 0
    assert (tmp_path / "train_overhead_cpu.json").is_file()
