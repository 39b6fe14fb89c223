"""The EMA of the adapter on the tiny model: it is the hand-computed average, resumes bit for bit,
is written with every checkpoint, best/ and final-ema/, and loads back as an adapter."""

from __future__ import annotations

import pytest
import torch

from acestep_train.events import read_events
from acestep_train.export.load import load_adapter
from acestep_train.models.safetensors_file import load_tensors
from acestep_train.train.adapters import saved_weights
from acestep_train.train.ema import AdapterEma
from acestep_train.train.setup import run_training
from train_data import make_tensors, tiny_settings

KINDS = {"lora": {}, "dora": {"adapter.type": "dora"}, **{kind: {"adapter.type": kind, "adapter.linear_dim": 4, "adapter.linear_alpha": 4.0}
                       for kind in ("lokr", "loha")}}


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("ema"), tiny_original, "turbo", seconds=(1.6, 2.6))


def weights(folder):
    return load_tensors(saved_weights(folder))


def hand_ema(raw: list[dict], decay: float) -> dict:
    """The warm-up EMA written out: the first update copies, the k-th uses min(decay, k / (9 + k))."""
    average = {k: v.clone() for k, v in raw[0].items()}
    for k, state in enumerate(raw[1:], start=2):
        d = min(decay, k / (9 + k))
        average = {name: d * average[name] + (1 - d) * state[name] for name in average}
    return average


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_average_is_the_hand_computed_ema_of_every_step(tiny_original, tensors, tmp_path, kind):
    config = tiny_settings(tiny_original, tensors, tmp_path, **KINDS[kind], **{
        "ema.enabled": True, "ema.decay": 0.3, "loop.epochs": 3, "checkpoint.save_every_steps": 1,
        "checkpoint.save_every_epochs": 0, "checkpoint.keep_last": 100})
    result = run_training(config)
    assert result["steps"] == 6
    checkpoints = tmp_path / "checkpoints"
    raw = [weights(checkpoints / str(step)) for step in range(1, 7)]
    saved = weights(checkpoints / "6" / "ema")
    expected = hand_ema(raw, 0.3)
    assert saved.keys() == expected.keys()
    for name in saved:
        assert torch.allclose(saved[name], expected[name], rtol=1e-6, atol=1e-7), name
    trained = [n for n in saved if not torch.equal(raw[0][n], raw[-1][n])]
    assert trained and all(not torch.equal(saved[n], raw[-1][n]) for n in trained)  # not the raw weights
    plan = next(e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "vram_estimate")
    assert "ema" in plan  # held with the adapter on its device: the planner counts it
    final, final_ema = load_adapter(tmp_path / "final").metadata, load_adapter(tmp_path / "final-ema").metadata
    assert final_ema["step"] == final["step"]  # the average saved with the adapter final/ is
    assert final_ema["ema"] == {"decay": 0.3, "warmup": True, "updates": final["step"]}


def test_a_resumed_run_ends_with_the_same_average_bit_for_bit(tiny_original, tensors, tmp_path):
    common = {"loop.epochs": 4, "schedule.name": "cosine", "schedule.warmup_steps": 2, "adapter.dropout": 0.1,
              "ema.enabled": True, "ema.decay": 0.9}
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "whole", **common))
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "half", **common, **{
        "checkpoint.save_every_steps": 4, "checkpoint.save_every_epochs": 0, "checkpoint.keep_last": 10}))
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "resumed", **common,
                               resume_from=str(tmp_path / "half" / "checkpoints" / "4")))
    for folder in ("checkpoints/8/ema", "checkpoints/8"):
        a, b = weights(tmp_path / "whole" / folder), weights(tmp_path / "resumed" / folder)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), folder
    assert not all(torch.equal(a[k], weights(tmp_path / "whole" / "checkpoints/8/ema")[k]) for k in a)
    resumed = [e for e in read_events(tmp_path / "resumed" / "events.jsonl") if e["event"] == "resumed"]
    assert resumed and resumed[0]["step"] == 4


def test_a_checkpoint_without_an_average_starts_one_and_says_so(tiny_original, tensors, tmp_path):
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "plain", **{"loop.epochs": 1}))
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "next", **{
        "loop.epochs": 2, "ema.enabled": True, "ema.on_cpu": True},
        resume_from=str(tmp_path / "plain" / "checkpoints" / "2")))
    events = read_events(tmp_path / "next" / "events.jsonl")
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert "ema" not in next(e for e in events if e["event"] == "vram_estimate")  # held on the CPU
    assert any("holds no EMA of the adapter" in w for w in warnings)
    assert load_adapter(tmp_path / "next" / "final-ema").metadata["ema"]["updates"] == 2
    run_training(tiny_settings(tiny_original, tensors, tmp_path / "again", **{
        "loop.epochs": 3, "ema.enabled": True, "ema.decay": 0.5},
        resume_from=str(tmp_path / "next" / "checkpoints" / "4")))
    warnings = [e["message"] for e in read_events(tmp_path / "again" / "events.jsonl") if e["event"] == "warning"]
    assert any("kept with decay 0.999 (warm-up True); this run continues it with decay 0.5" in w for w in warnings)
    assert load_adapter(tmp_path / "again" / "checkpoints" / "6" / "ema").metadata["ema"]["updates"] == 4


@pytest.mark.parametrize("on_cpu", [False, True])
def test_constant_decay_and_swapping_restores_the_live_weights_exactly(on_cpu):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    ema = AdapterEma(params, decay=0.75, warmup=False, on_cpu=on_cpu)
    start, history = [p.detach().clone() for p in params], []
    for _ in range(4):
        with torch.no_grad():
            for p in params:
                p.add_(torch.randn_like(p))
        history.append([p.detach().clone() for p in params])
        ema.update()
    expected = start
    for state in history:
        expected = [0.75 * e + 0.25 * s for e, s in zip(expected, state)]
    assert all(torch.allclose(s, e, atol=1e-6) for s, e in zip(ema.shadow, expected))
    live = [p.detach().clone() for p in params]
    with ema.swapped_in():
        assert all(torch.equal(p, s) for p, s in zip(params, ema.shadow))
    assert all(torch.equal(p, v) for p, v in zip(params, live))
    assert ema.memory_bytes() == (15 + 7) * 4 and ema.updates == 4


def test_bad_ema_settings_name_the_field(tiny_original, tensors, tmp_path):
    with pytest.raises(ValueError, match=r"ema.decay must be in \(0, 1\)"):
        tiny_settings(tiny_original, tensors, tmp_path, **{"ema.enabled": True, "ema.decay": 1.0})
    with pytest.raises(ValueError, match="ema.on_cpu and ema.previews need ema.enabled"):
        tiny_settings(tiny_original, tensors, tmp_path, **{"ema.on_cpu": True})


def test_the_planner_and_the_simulation_count_an_average_held_on_the_gpu():
    from acestep_train.train.config import AdapterConfig, EmaConfig
    from acestep_train.train.memory_sim import StepShape, simulate
    from acestep_train.vram import GB, DitShape, RunShape, estimate, lora_params

    params = lora_params(DitShape(), 64)  # 44 M: rank 64 on both attentions of the full-size DiT
    plain, averaged = estimate(DitShape(), RunShape(params)), estimate(DitShape(), RunShape(params, ema_on_gpu=True))
    assert "ema" not in plain and averaged["ema"] == round(params * 4 / GB, 2) == 0.16
    assert averaged["total"] == pytest.approx(plain["total"] + 0.16 * 1.1, abs=0.02)  # + allocator slack
    measured = simulate(AdapterConfig(rank=64), StepShape(1, 100, True, ema_on_gpu=True))
    assert measured["adapter_params"] == params and measured["ema"] == round(params * 4 / GB, 3)
    assert EmaConfig(enabled=True).on_gpu and not EmaConfig(enabled=True, on_cpu=True).on_gpu


def test_previews_also_render_the_average(tiny_original, tensors, tmp_path):
    import soundfile

    run_training(tiny_settings(tiny_original, tensors, tmp_path, **{
        "loop.epochs": 2, "ema.enabled": True, "ema.decay": 0.5, "ema.previews": True, "previews.every_epochs": 2,
        "previews.duration": 1.0, "previews.steps": 2, "previews.scales": [1.0]}))
    samples = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "samples"]
    assert len(samples) == 1 and set(samples[0]["ema_files"]) == {"1.0"}
    raw, averaged = (soundfile.read(files["1.0"])[0] for files in (samples[0]["files"], samples[0]["ema_files"]))
    assert "/ema/" in samples[0]["ema_files"]["1.0"] and abs(raw - averaged).max() > 1e-6


def test_under_ddp_the_average_follows_the_shared_weights(tiny_original, tensors, tmp_path):
    """Two CPU ranks (gloo): rank 0 writes an average equal to the EMA of the all-reduced weights."""
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "-m", "acestep_train", "train", "--checkpoint-dir", str(tiny_original),
               "--model-variant", "turbo", "--dataset-dir", str(tensors), "--output-dir", str(tmp_path),
               "--epochs", "4", "--max-latent-length", "30", "--rank", "4", "--alpha", "4", "--lr", "5e-3",
               "--scheduler", "constant", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
               "--save-every-steps", "1", "--save-every", "0", "--keep-last", "100", "--ema", "--ema-decay", "0.3"]
    result = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("trained 4 steps") == 1  # 2 songs / 2 ranks: one step an epoch, printed by rank 0
    assert f"its EMA: {tmp_path / 'final-ema'}" in result.stdout
    raw = [weights(tmp_path / "checkpoints" / str(step)) for step in range(1, 5)]
    saved, expected = weights(tmp_path / "checkpoints" / "4" / "ema"), hand_ema(raw, 0.3)
    assert all(torch.allclose(saved[k], expected[k], rtol=1e-6, atol=1e-7) for k in expected)
    assert (tmp_path / "final-ema").is_dir()
