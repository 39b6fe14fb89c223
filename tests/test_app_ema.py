"""The Train tab's EMA controls reach the run's config through the job's own command line, and the
memory note counts an average held on the GPU."""

from __future__ import annotations


import gradio as gr
import pytest

from acestep_train.presets import load_preset
from app import train_settings as ts
from test_app_status import PATHS, values
from test_app_status import job_config as args_config



def job_config(form):
    """The config the train job builds from the command line the tab writes."""
    return args_config(ts.command(form, PATHS, []))


def test_the_ema_controls_reach_the_runs_config():
    off = job_config(values())
    assert not off.ema.enabled and "--ema" not in ts.command(values(), PATHS, [])
    form = values(ema=True, ema_decay="0.995", ema_on_cpu=True, ema_previews=True)
    on = job_config(form)
    assert (on.ema.enabled, on.ema.decay, on.ema.on_cpu, on.ema.previews, on.ema.warmup) == (True, 0.995, True, True,
                                                                                              True)
    shown = ts.resolve(load_preset("quick_test").for_adapter("lora"), form, PATHS, None).ema  # what Show says
    assert shown == on.ema


def test_bad_ema_controls_are_refused_by_name():
    with pytest.raises(ValueError, match="EMA decay: enter a number below 1"):
        ts.command(values(ema=True, ema_decay=None), PATHS, [])
    with pytest.raises(ValueError, match="EMA decay: 'slow' is not a number"):
        ts.ema_flags(values(ema=True, ema_decay="slow"))
    with pytest.raises(ValueError, match=r"ema.decay must be in \(0, 1\)") as raised:
        ts.resolve(load_preset("quick_test").for_adapter("lora"), values(ema=True, ema_decay="1.5"), PATHS, None)
    assert ts.readable(str(raised.value)).startswith("EMA decay (ema.decay) must be in (0, 1)")
    with pytest.raises(ValueError, match="ema.on_cpu and ema.previews need ema.enabled"):
        job_config(values(ema_on_cpu=True))


def test_the_memory_note_counts_an_average_on_the_gpu_only():
    preset = load_preset("quick_test").for_adapter("lora")
    on_gpu = ts.vram_text(ts.resolve(preset, values(ema=True), PATHS, None), None)
    on_cpu = ts.vram_text(ts.resolve(preset, values(ema=True, ema_on_cpu=True), PATHS, None), None)
    assert "ema " in on_gpu and "ema " not in on_cpu


def test_the_train_tab_shows_the_controls():
    from app.tabs.train import ema_section

    with gr.Blocks():
        fields = ema_section()
    assert set(fields) == {"ema", "ema_decay", "ema_on_cpu", "ema_previews"}
    assert fields["ema_decay"].value == 0.999 and fields["ema"].value is False


def test_the_preview_history_draws_the_ema_previews_under_their_step():
    from app.preview_history import history_html, player_clips, preview_history

    events = [{"time": 1, "event": "samples", "step": 2, "files": {"1.0": "/runs/r/samples/2/scale_1.wav"}},
              {"time": 2, "event": "samples", "step": 4, "files": {"1.0": "/runs/r/samples/4/scale_1.wav"},
               "ema_files": {"1.0": "/runs/r/samples/4/ema/scale_1.wav"}}]
    history = preview_history(events)
    assert [(p.step, p.ema_clips) for p in history] == [(4, {"1.0": "/runs/r/samples/4/ema/scale_1.wav"}), (2, {})]
    table = history_html(history, None, lambda path: True)
    assert table.count("<tr><th>step 4") == 2 and "<tr><th>step 4 · EMA</th>" in table
    assert "step 2 · EMA" not in table and 'src="gradio_api/file=/runs/r/samples/4/ema/scale_1.wav"' in table
    assert 'aria-label="step 4 · EMA, strength 1.0"' in table
    assert player_clips(history[0]) == [("1.0", "/runs/r/samples/4/scale_1.wav"), (None, None), (None, None)]


def test_the_status_names_the_final_ema():
    from app.status import describe
    from test_app_status import job

    finished = {"time": 5, "event": "finished", "steps": 4, "final": "/r/final", "final_from": "best",
                "final_ema": "/r/final-ema"}
    assert "adapter: /r/final (from best); its EMA: /r/final-ema" in describe(job("finished", exit_code=0),
                                                                            [finished], "")
    plain = {key: value for key, value in finished.items() if key != "final_ema"}
    assert "its EMA" not in describe(job("finished", exit_code=0), [plain], "")
