"""Previews during training: written at the right steps, one distinct clip per strength, and every one of
them shown in the Train tab's preview history, labelled by step and strength (one tiny run serves both)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from acestep_train.events import read_events
from acestep_train.train.config import load_config
from acestep_train.train.setup import run_training
from app.context import AppContext
from app.settings import make_settings
from train_data import make_tensors


@pytest.fixture(scope="module")
def preview_run(tiny_original, tmp_path_factory):
    """(run folder, the studio's context, the train job record) of a 3-epoch run previewing every 3 steps."""
    base = tmp_path_factory.mktemp("previews")
    ctx = AppContext(make_settings("127.0.0.1", 7861, False, None, [str(base / "data")], False,
                                   state_dir=str(base / "studio-state")), tiny_original,
                     base / "state")
    run = base / "data" / "run"
    job = ctx.jobs.submit("train", ["not-started"], run, gpus=[])  # the record the Train tab shows (never started)
    tensors = make_tensors(base / "data", tiny_original, "turbo", seconds=(1.6, 2.6))
    (run / "control").mkdir(parents=True)
    config = load_config(None, {
        "checkpoint_dirs": [str(tiny_original)], "model_variant": "turbo", "dataset_dir": str(tensors),
        "output_dir": str(run), "loop.epochs": 3, "data.max_latent_length": 30, "optim.lr": 2e-2,
        "previews.every_steps": 3, "previews.duration": 1.0, "previews.steps": 2, "previews.scales": [0.0, 1.0, 1.5],
        "trigger_word": "zzq", "schedule.name": "constant"})
    run_training(config)
    return run, ctx, job


def test_previews_at_the_right_steps_with_distinct_scales(preview_run):
    run = preview_run[0]
    events = [e for e in read_events(run / "events.jsonl") if e["event"] == "samples"]
    assert [e["step"] for e in events] == [3, 6]
    clips = {scale: soundfile.read(path)[0] for scale, path in events[-1]["files"].items()}
    assert set(clips) == {"0.0", "1.0", "1.5"} and clips["1.0"].shape == (48000, 2)
    assert np.abs(clips["0.0"] - clips["1.0"]).max() > 1e-4
    assert np.abs(clips["1.0"] - clips["1.5"]).max() > 1e-4
    assert (run / "samples" / "6" / "scale_1.5.wav").is_file()
    estimate = next(e for e in read_events(run / "events.jsonl") if e["event"] == "vram_estimate")
    assert estimate["total"] > 0 and {"weights", "adapter", "activations", "overhead"} <= set(estimate)


def test_the_train_tab_keeps_every_preview_labelled_by_step_and_strength(preview_run):
    from app.train_actions import monitor

    run, ctx, job = preview_run
    shown = monitor(ctx, None, job.id)
    table = shown["history"]
    assert table.index("<th>step 6</th>") < table.index("<th>step 3</th>")  # both kept, newest first
    for step in (3, 6):
        for scale, file in (("0.0", "scale_0.wav"), ("1.0", "scale_1.wav"), ("1.5", "scale_1.5.wav")):
            assert f'title="step {step}, strength {scale}"' in table
            assert f"gradio_api/file={run}/samples/{step}/{file}" in table  # playable through the roots
    assert [choice[1] for choice in shown["preview_step"]["choices"]] == [6, 3]
    labels = [clip["label"] for clip in shown["clips"]]
    assert labels == [f"Step 6, adapter strength {s}" for s in ("0.0", "1.0", "1.5")]
    assert f"`tensorboard --logdir {run / 'tb'} --port 6006`" in shown["tensorboard"]
    assert list((run / "tb").glob("events.out.tfevents.*"))  # the command points at the logs the run wrote
    older = monitor(ctx, shown["seen"], job.id, step=3)  # picking an older step redraws, though nothing else changed
    assert older["clips"][0]["value"] == str(run / "samples" / "3" / "scale_0.wav")
    assert "<th>step 6</th>" not in older["history"] and older["preview_step"]["value"] == 3
    again = monitor(ctx, older["seen"], job.id, step=3)
    assert "history" not in again and "clips" not in again  # nothing changed: nothing redrawn
