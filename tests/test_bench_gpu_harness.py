"""CPU-sized runs of the GPU benchmarks: the harness produces sane figures (no timings asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from acestep_train.train.config import ADAPTER_TYPES
from bench.preset_fit import main as preset_fit
from bench.train_step import main as train_step, step_flops

REPO = Path(__file__).resolve().parents[1]


def test_train_step_small(tmp_path):
    figures = train_step(["--size", "small", "--preset", "12gb", "--adapter", "lokr", "--frames", "64",
                          "--steps", "2", "--warmup", "1", "--checkpointing", "on", "--results-dir", str(tmp_path)])
    assert figures["step_s"] > 0 and figures["samples_per_s"] > 0 and figures["adapter_params"] > 0
    assert figures["audio_s_per_s"] == pytest.approx(figures["batch"] * 64 / 25 / figures["step_s"], rel=0.01)
    assert figures["mfu"] is None  # no bf16 peak is defined for a CPU
    assert list(tmp_path.glob("train_step_small_12gb_lokr_gcon_*.json"))


def test_flops_count_grows_with_checkpointing_and_tokens():
    config = {"hidden_size": 2048, "num_hidden_layers": 24}
    base = step_flops(config, 1_575_000_000, 44_000_000, 750, 600, False)
    assert step_flops(config, 1_575_000_000, 44_000_000, 750, 600, True) > base
    assert step_flops(config, 1_575_000_000, 44_000_000, 1500, 600, False) > 2 * base * 0.99
    assert 4e12 < base < 8e12  # ~2 x 2 x 1.58 B x 750 tokens, plus attention


def test_preset_fit_small_records_every_preset(tmp_path):
    result = preset_fit(["--size", "small", "--presets", "8gb", "--steps", "1", "--frames", "32",
                         "--results-dir", str(tmp_path)])
    assert [row["adapter"] for row in result["rows"]] == list(ADAPTER_TYPES) and not result["failures"]
    assert all(row["fits"] is None and row["step_s"] > 0 for row in result["rows"])
    assert json.loads((tmp_path / "preset_fit_small.json").read_text())["failures"] == 0


def test_bench_entry_lists_benchmarks():
    out = subprocess.run([sys.executable, "-m", "bench"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2 and "train_step" in out.stdout and "preset_fit" in out.stdout
