"""Two CPU processes through Fabric DDP (gloo), launched by the CLI: the same learning as one process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from acestep_train.events import read_events
from train_data import fixed_eval_loss, make_tensors

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("ddp"), tiny_original, "turbo", seconds=(1.6, 2.6, 2.0, 3.0))


def train_cli(tiny_original, tensors, output, devices):
    command = [sys.executable, "-m", "acestep_train", "train", "--checkpoint-dir", str(tiny_original),
               "--model-variant", "turbo", "--dataset-dir", str(tensors), "--output-dir", str(output),
               "--epochs", "8", "--max-latent-length", "30", "--rank", "4", "--alpha", "4", "--lr", "5e-3",
               "--scheduler", "constant", "--accelerator", "cpu", "--devices", str(devices)]
    if devices > 1:
        command += ["--strategy", "ddp"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_two_process_ddp_learns_like_one(tiny_original, tensors, tmp_path):
    ddp = train_cli(tiny_original, tensors, tmp_path / "ddp", 2)
    assert "Starting with 2 processes" in ddp.stdout + ddp.stderr
    assert ddp.stdout.count("trained 16 steps") == 1  # 4 songs / 2 ranks = 2 steps per epoch, printed by rank 0
    train_cli(tiny_original, tensors, tmp_path / "single", 1)
    before = fixed_eval_loss(tiny_original, tensors)
    after_ddp = fixed_eval_loss(tiny_original, tensors, tmp_path / "ddp" / "final")
    after_single = fixed_eval_loss(tiny_original, tensors, tmp_path / "single" / "final")
    assert after_ddp < 0.9 * before and after_single < 0.9 * before
    gain_ddp, gain_single = before - after_ddp, before - after_single
    assert 0.33 < gain_ddp / gain_single < 3.0
    steps = [e for e in read_events(tmp_path / "ddp" / "events.jsonl") if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 17))
