"""The EMA-cost benchmark runs a real tiny training with the EMA on and times the update of its adapter."""

from __future__ import annotations

from bench.ema_cost import main


def test_ema_cost_harness(tmp_path):
    figures = main(["--reps", "5", "--epochs", "2", "--params", "1000", "--results-dir", str(tmp_path)])
    assert figures["adapter_params"] > 0 and figures["tensors"] > 0 and figures["step_ms"] > 0
    assert figures["update_ms"] > 0 and figures["update_on_cpu_ms"] > 0 and figures["large_update_ms"] > 0
    assert (tmp_path / "ema_cost_cpu.json").is_file()
