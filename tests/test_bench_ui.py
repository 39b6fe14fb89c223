"""The UI benchmark harness runs at small size (no timing asserted)."""

from __future__ import annotations

from bench.ui_start import main


def test_ui_benchmark_harness(tmp_path):
    figures = main(["--songs", "5", "--results-dir", str(tmp_path)])
    assert figures["rows"] == 5 and "5 files: 5 usable" in figures["summary"]
    assert figures["start_to_first_response_s"] > 0 and figures["show_dataset_s"] > 0
