"""The app's pure parts: status lines, plots, the Train tab's settings -> command, wiring by name, links."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pytest

from acestep_train.jobs import Job, child_environment
from acestep_train.presets import load_preset
from app import train_settings as ts
from app.context import AppContext
from app.errors import UserError
from app.forms import Form, TrainForm
from app.peer import Peer, peer_url
from app.plots import loss_figure, memory_figure, run_steps, thin
from app.preview_history import history_html, player_clips, preview_history, run_previews, shown_rows
from app.settings import make_settings
from app.status import describe, duration, job_events
from app.train_actions import gpu_choice
from app.wiring import named


def job(status: str, **fields) -> Job:
    return Job("20260101-000000-train-abcdef", ["train"], "/nowhere", "train", status=status, started=100.0, **fields)


def step(n: int, loss: float = 1.0) -> dict:
    return {"time": 100.0 + n, "event": "step", "step": n, "epoch": 0, "loss": loss, "smoothed_loss": loss,
            "lr": 1e-4, "eta_s": 3725.0}


def test_status_shows_progress_eta_summary_and_the_error():
    running = describe(job("running"), [{"time": 101, "event": "start", "total_steps": 50}, step(7)], "")
    assert "step 7/50 (epoch 1), loss 1.0000" in running and "ETA 1:02:05" in running
    summary = {"time": 102, "event": "summary", "done": 3, "skipped": 1, "removed": 0,
               "failed": [["/songs/bad.wav", "unreadable"]]}
    text = describe(job("failed", exit_code=1), [summary], "line one\nTraceback: boom")
    assert "failed (exit code 1)" in text and "Summary: 3 done, 1 skipped" in text and "1 failed" in text
    assert "failed bad.wav: unreadable" in text and text.endswith("Traceback: boom")
    partial = describe(job("finished", exit_code=10), [summary], "100%|##########| 8/8")
    assert partial.startswith("train 20260101-000000-train-abcdef: finished, 1 skipped\nSummary: 3 done")
    assert "skipped bad.wav: unreadable" in partial and "failed" not in partial and "8/8" not in partial
    killed = describe(job("failed"), [], "")
    assert "the process was killed" in killed
    loading = describe(job("running"), [], "Loading the VAE\n 40%|####      | 2/5")
    assert loading.endswith("2/5")  # no event yet: the log's last line is the progress
    assert duration(59) == "0:59" and duration(3600) == "1:00:00"


def test_only_this_jobs_events_count():
    record = job("running")
    old = {"time": 10.0, "event": "summary", "done": 9, "skipped": 0, "removed": 0, "failed": []}
    assert job_events(record, [old, step(1)]) == [step(1)]


def test_plots_thin_long_runs_and_keep_the_history_of_a_resume():
    rows = [step(n) for n in range(1, 10001)]
    thinned = thin(rows, 100)
    assert len(thinned) == 100 and thinned[0]["step"] == 1 and thinned[-1]["step"] == 10000
    earlier, resumed = [step(n) for n in range(1, 6)], [step(n) for n in range(6, 9)]
    assert [e["step"] for e in run_steps(earlier + resumed, resumed)] == list(range(1, 9))
    fresh = [step(n) for n in range(1, 4)]
    assert [e["step"] for e in run_steps(earlier + fresh, fresh)] == [1, 2, 3]  # a new run hides the old one
    figure = loss_figure(rows)
    assert len(figure.data[0].x) <= 2000 and figure.layout.uirevision == "loss"
    for layout in (figure.layout, memory_figure([], rows).layout):  # the label badge covers the top-left corner
        assert layout.legend.y < 0 and layout.legend.yanchor == "top" and layout.margin.b >= 80  # legend under x
    samples = {"time": 1, "event": "samples", "step": 4, "files": {"0.5": "/a.wav", "1.0": "/b.wav"}}
    assert player_clips(preview_history([samples])[0]) == [("0.5", "/a.wav"), ("1.0", "/b.wav"), (None, None)]


def test_the_preview_history_draws_a_bounded_number_of_steps_and_links_only_served_files():
    events = [{"time": n, "event": "samples", "step": n * 10, "files": {"1.0": f"/runs/r/samples/{n * 10}/a b.wav"}}
              for n in range(1, 26)]
    events.append({"time": 99, "event": "samples", "step": 250, "files": {"0.5": "/elsewhere/x.wav"}})  # re-done
    history = preview_history(events)
    assert [p.step for p in history][:3] == [250, 240, 230] and history[0].clips == {"0.5": "/elsewhere/x.wav"}
    assert [p.step for p in shown_rows(history, 100)] == list(range(100, 0, -10))  # a picked older step
    assert [p.step for p in shown_rows(history, 12345)][0] == 250  # a step not in this run: the newest
    table = history_html(history, None, lambda path: str(path).startswith("/runs"))
    assert table.count("<tr><th>step") == 10 and "15 more: pick a step" in table
    assert "x.wav (outside the roots)" in table and "/elsewhere" not in table  # never linked, never shown whole
    assert 'src="gradio_api/file=/runs/r/samples/240/a%20b.wav"' in table
    assert "No previews yet" in history_html([], None, lambda path: True)


def test_a_resumed_run_keeps_the_previews_made_before_the_resume():
    def samples(n: int) -> dict:
        return {"time": n, "event": "samples", "step": n, "files": {"1.0": f"/r/samples/{n}/scale_1.wav"}}

    earlier = [step(1), step(2), samples(2), step(3), step(4), samples(4)]
    resumed = [step(3), samples(3), step(4)]  # resumed from the step-2 checkpoint
    assert [p.step for p in preview_history(run_previews(earlier + resumed, resumed))] == [3, 2]
    fresh = [step(1), samples(1)]
    assert [p.step for p in preview_history(run_previews(earlier + fresh, fresh))] == [1]  # a new run: its own


def values(**changes) -> TrainForm:
    """The Train tab's form as choosing the quick_test preset fills it."""
    base = dict(ts.preset_values(load_preset("quick_test").for_adapter("lora"), "lora"))
    lokr = ts.preset_values(load_preset("quick_test").for_adapter("lokr"), "lokr")
    base.update({k: lokr[k] for k in ("linear_dim", "linear_alpha", "factor")})
    base.update(mlp=False, decompose_both=False, adapter="lora", model="tiny-turbo", preset="quick_test", advanced="",
                gpus=[], tensors="/t", output="/o")
    base.update(changes)
    return TrainForm.of(base)


PATHS = {"checkpoints": Path("/ck"), "tensors": Path("/t"), "output": Path("/o")}


def job_config(args: list[str]):
    """The config the train job builds from ``args`` (the command line the tab writes), parsed as the job parses it."""
    import argparse

    from acestep_train.commands import train as train_command
    from acestep_train.train.config import load_config

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    parsed = parser.parse_args(args)
    return load_config(None, train_command.overrides(parsed), train_command.preset_settings(
        train_command.chosen_preset(parsed), parsed.adapter_type or "lora"))


def test_fields_go_to_flags_and_adapter_fields_follow_the_adapter():
    paths = PATHS
    lora = ts.command(values(epochs="3", rank="4", linear_dim="9", lr="0.001", mlp=True), paths, ["--seed", "1"])
    assert lora[0] == "--checkpoint-dir" and "--preset" in lora
    assert ["--epochs", "3"] == lora[lora.index("--epochs"):lora.index("--epochs") + 2]
    assert "--rank" in lora and "--linear-dim" not in lora and "--mlp" in lora and lora[-2:] == ["--seed", "1"]
    lokr = ts.command(values(adapter="lokr", rank="4", linear_dim="9", decompose_both=True), paths, [])
    assert "--linear-dim" in lokr and "--rank" not in lokr
    assert "--decompose-both" in lokr
    loha = ts.command(values(adapter="loha", rank="4", linear_dim="9", factor="4", decompose_both=True), paths, [])
    assert ["--adapter-type", "loha"] == loha[loha.index("--adapter-type"):loha.index("--adapter-type") + 2]
    assert ["--linear-dim", "9"] == loha[loha.index("--linear-dim"):loha.index("--linear-dim") + 2]
    assert "--rank" not in loha and "--factor" not in loha and "--decompose-both" not in loha  # LoKr's own
    with pytest.raises(ValueError, match="Epochs: must be a whole number"):
        ts.chosen(values(epochs="2.5"))
    with pytest.raises(ValueError, match="Learning rate: 'fast' is not a number"):
        ts.chosen(values(lr="fast"))


def test_the_preview_prompt_lyrics_and_seed_reach_the_runs_config():
    defaults = values()
    assert (defaults.preview_caption, defaults.preview_lyrics, defaults.preview_seed) == ("", "[Instrumental]", 42)
    form = values(preview_caption="dark synthwave", preview_lyrics="[verse]\nneon rain", preview_seed="7")
    config = job_config(ts.command(form, PATHS, []))
    assert (config.previews.caption, config.previews.lyrics, config.previews.seed) == \
        ("dark synthwave", "[verse]\nneon rain", 7)
    shown = ts.resolve(load_preset("quick_test").for_adapter("lora"), form, PATHS, None).previews  # what Show says
    assert (shown.caption, shown.seed) == ("dark synthwave", 7)
    with pytest.raises(ValueError, match="Preview seed: must be a whole number"):
        ts.chosen(values(preview_seed="1.5"))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("epochs", None, "Epochs: enter a number"), ("lr", "", "Learning rate: enter a number"),
    ("epochs", 0, "Epochs must be at least 1"), ("batch", -1, "Batch must be at least 1")])
def test_a_cleared_or_zero_number_is_refused_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        ts.chosen(values(**{field: value}))


def test_resolved_settings_layer_preset_json_and_fields():
    paths = PATHS
    preset = load_preset("quick_test").for_adapter("lora")
    config = ts.resolve(preset, values(rank="4", advanced='{"optim": {"weight_decay": 0.5}, "data": {"repeats": 3}}'),
                        paths, None)
    assert config.adapter.rank == 4 and config.optim.weight_decay == 0.5 and config.data.repeats == 3
    assert config.data.max_latent_length == 500 and config.optim.lr == 0.0003  # the preset's
    assert ts.resolve(preset, values(advanced='{"optim": {"lr": 0.1}}', lr="0.2"), paths, None).optim.lr == 0.2
    with pytest.raises(ValueError, match="must be a JSON object"):
        ts.resolve(preset, values(advanced="[1]"), paths, None)
    assert ts.preset_values(preset, "lora")["crop"] == 500
    assert "VRAM estimate for the full-size model" in ts.vram_text(config, None)
    assert "**" in ts.vram_text(config, 2.0)  # a 2 GB card cannot hold it: a warning


def test_named_wiring_passes_a_dict_and_blank_text_for_missing_fields():
    with gr.Blocks():
        fields = {"folder": gr.Textbox(), "epochs": gr.Number(), "on": gr.Checkbox()}
        handler, inputs = named(fields, lambda v: v)
    assert inputs == list(fields.values())
    assert list(handler.__signature__.parameters) == ["folder", "epochs", "on"]
    assert handler(None, None, True) == {"folder": "", "epochs": None, "on": True}


def test_named_wiring_builds_the_tabs_typed_form_and_checks_its_names():
    with gr.Blocks():
        fields = {"folder": gr.Textbox(), "amount": gr.Number(), "on": gr.Checkbox(), "picked": gr.CheckboxGroup([])}
        handler, _ = named(fields, lambda form: form, Sample)
        with pytest.raises(TypeError, match=r"fields without a component \['amount', 'on', 'picked'\].*without a field \['extra'\]"):
            named({"folder": fields["folder"], "extra": gr.Textbox()}, lambda form: form, Sample)
    form = handler(None, "2.5", None, None)  # what an API client leaving fields out sends
    assert form == Sample(folder="", amount=2.5, on=False, picked=[])
    with pytest.raises(UserError, match="amount: 'lots' is not a number"):
        handler("x", "lots", True, ["a"])


@dataclass(frozen=True)
class Sample(Form):
    folder: str
    amount: float
    on: bool
    picked: list[str]


def test_gpu_choice_pins_the_picked_gpus():
    assert gpu_choice([]) == ([0], False, [])
    assert gpu_choice(["1"]) == ([1], True, [])
    assert gpu_choice(["2", "0"]) == ([0, 2], True, ["--devices", "2"])
    # the job's environment comes from the studio and the record's validated GPUs, never from the record itself
    env = child_environment(Job("x", [], "/o", "train", gpus=[0, 2], pin_gpus=True, token="t0k"))
    assert env["CUDA_VISIBLE_DEVICES"] == "0,2" and env["ACESTEP_STUDIO_JOB_TOKEN"] == "t0k"
    unpinned = child_environment(Job("x", [], "/o", "train", token="t0k"))
    assert unpinned.get("CUDA_VISIBLE_DEVICES") == os.environ.get("CUDA_VISIBLE_DEVICES")


def test_typed_paths_are_confined_on_loopback_too(tmp_path):
    roots = [str(tmp_path / "ck"), str(tmp_path / "data")]
    local = AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tmp_path / "ck", tmp_path)
    exposed = AppContext(make_settings("0.0.0.0", 7861, False, "a:b", roots, False), tmp_path / "ck", tmp_path)
    for ctx in (local, exposed):
        with pytest.raises(gr.Error, match="outside the folders this studio serves"):
            ctx.path("/etc")
    with pytest.raises(gr.Error, match="Enter a song folder"):
        exposed.path("  ", "song folder")
    assert exposed.path("songs") == tmp_path / "ck" / "songs"  # relative: inside the first root
    assert exposed.served(tmp_path / "data" / "a.wav") and not exposed.served(Path("/etc/passwd"))


def test_peer_link_follows_the_page_host_or_the_share_link(tmp_path):
    peer = Peer("captioner", 7862, tmp_path)
    assert peer_url(peer, "10.0.0.5:7861", "http") == "http://10.0.0.5:7862"
    assert peer_url(peer, "[::1]:7861", "http") == "http://[::1]:7862"
    assert peer_url(peer, "studio.lan", "https") == "https://studio.lan:7862"
    (tmp_path / "captioner.url").write_text("https://abc.gradio.live\n")
    assert peer_url(peer, "10.0.0.5:7861", "http") == "https://abc.gradio.live"
