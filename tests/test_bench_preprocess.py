"""The preprocessing benchmark harness runs at small size and reports sane figures."""

from __future__ import annotations

from bench.preprocess import main


def test_preprocess_benchmark_harness(tmp_path):
    figures = main(["--songs", "2", "--seconds", "2", "--results-dir", str(tmp_path)])
    assert figures["done"] == 2
    assert 0 < figures["decode_resample_seconds"] < figures["total_seconds"]
    assert figures["songs_per_minute"] > 0 and figures["audio_seconds_per_second"] > 0
    assert figures["user_cpu_seconds"] > 0 and figures["system_cpu_seconds"] >= 0
    assert figures["minor_page_faults"] > 0 and figures["glibc_defaults"] is False
    assert (tmp_path / "preprocess_tiny_cpu.json").is_file()
