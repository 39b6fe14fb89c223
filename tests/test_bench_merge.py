"""The merge peak-RAM benchmark harness runs end to end at tiny size (no timing asserted)."""

from __future__ import annotations

import json

from bench.merge_peak_ram import main


def test_merge_benchmark_harness(tmp_path):
    figures = main(["--workdir", str(tmp_path / "work"), "--size", "tiny", "--rank", "2",
                    "--results-dir", str(tmp_path / "results")])
    assert figures["peak_rss_mb"] > 0 and figures["merge_seconds"] >= 0
    # r * (in + out) per projection: q 2*(32+32), k and v 2*(32+16), out 2*(32+32); x 2 attentions x 2 layers
    assert figures["adapter_params"] == (128 + 96 + 96 + 128) * 2 * 2
    record = json.loads((tmp_path / "results" / "merge_peak_ram_tiny.json").read_text())
    assert record["machine"]["torch"] and record["size"] == "tiny"
    assert (tmp_path / "work" / "merged" / "model.safetensors").is_file()


def test_merge_benchmark_harness_at_tiny_xl_shape(tmp_path):
    figures = main(["--workdir", str(tmp_path / "work"), "--size", "tiny-xl", "--rank", "2",
                    "--results-dir", str(tmp_path / "results")])
    # hidden 40, q 4x16 = 64, k/v 16: q 2*(40+64), k and v 2*(40+16), out 2*(64+40); x 2 attentions x 3 layers
    assert figures["adapter_params"] == (208 + 112 + 112 + 208) * 2 * 3
    assert (tmp_path / "work" / "merged" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "work" / "merged" / "config.json").read_text())["encoder_hidden_size"] == 32
