"""The scan benchmark harness runs at small size and reports sane figures (no timing asserted)."""

from __future__ import annotations

import json

from bench.scan import main


def test_scan_benchmark_harness(tmp_path):
    figures = main(["--files", "20", "--seconds", "1", "--results-dir", str(tmp_path)])
    assert figures["files"] == 20 and figures["usable"] == 20 and figures["labeled"] == 7
    assert figures["seconds_per_1000_files"] > 0
    assert json.loads((tmp_path / "scan.json").read_text())["benchmark"] == "scan"
