"""The UI benchmark harness runs at small size (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.ui_start import CHROMIUM, main


def test_ui_benchmark_harness(tmp_path):
    figures = main(["--songs", "5", "--starts", "2", "--results-dir", str(tmp_path)])
    assert figures["rows"] == 5 and "5 files: 5 usable" in figures["summary"]
    assert figures["start_to_first_response_s"] > 0 and figures["show_dataset_s"] > 0
    low, high = figures["start_ratio_range"]  # the median of two rounds' ratios lies between them
    assert figures["start_rounds"] == 2 and 0 < low <= figures["start_ratio_to_bare_gradio"] <= high
    if Path(CHROMIUM).exists():  # the browser figures, where Debian's chromium is installed
        assert 0 < figures["browser_page_load_s"] < 120 and 0 < figures["browser_show_dataset_s"] < 120
    assert json.loads((tmp_path / "ui_start.json").read_text())["songs"] == 5
