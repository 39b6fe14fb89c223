"""Issue 25, what a newcomer met (no browser: the handlers the buttons call, as the app wires them, on the tiny
model and real files): Compare follows the project, merge strength refused out of range, one job per click,
the trigger word kept, the layer estimate reported in its tab, downloads said plainly, exit codes in words."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import gradio as gr
import pytest

from acestep_train.jobs import EXIT_PARTIAL
from acestep_train.models.download import DownloadError, download_model
from app import browser_js, train_actions
from app.context import AppContext
from app.errors import UserError
from app.forms import CompareForm, ExportForm
from app.project import Project
from app.session import restored
from app.settings import make_settings
from app.status import describe, kind_status, summary_lines
from app.tabs import compare, export, jobs_panel, service
from app.tabs.project import open_project
from app.trainer import build_trainer_app
from compare_run import make_run
from job_helpers import settle
from test_app_status import job, values
from test_launch import free_port

JOB_WAIT = 600  # a real job on a loaded 2-core machine


@pytest.fixture
def ctx(tmp_path, tiny_original) -> AppContext:
    roots = [str(tiny_original), str(tmp_path / "data"), str(tmp_path / "state")]
    (tmp_path / "data").mkdir()
    return AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tiny_original, tmp_path / "state")


def wired(demo: gr.Blocks, api_name: str):
    """The event a button is wired to, as Gradio calls it."""
    return next(fn for fn in demo.fns.values() if fn.api_name == api_name)


def compare_form(run: Path, output: Path, **changes) -> CompareForm:
    base = dict(run=str(run), model="tiny-turbo", checkpoints="best final", strengths="0 1", caption1="zzq pads",
                lyrics1="", caption2="", lyrics2="", caption3="", lyrics3="", duration=2, seed=1, steps=2,
                output=str(output))
    return CompareForm.of({**base, **changes})


def test_compare_follows_the_project_after_opening_and_after_a_reload(ctx, tmp_path):
    band = tmp_path / "data" / "band"
    project, _ = open_project(ctx, str(band))
    for name, age in (("run", 100), ("run-2", 0)):  # run-2 trained last
        (band / "runs" / name).mkdir()
        (band / "runs" / name / "run.json").write_text("{}")
        os.utime(band / "runs" / name / "run.json", (time.time() - age, time.time() - age))
    fields = Project(band).fields()
    assert fields["compare.run"] == str(band / "runs" / "run-2")
    assert fields["compare.output"] == str(band / "compare") and fields["compare.folder"] == str(band / "exports" / "chosen")
    with gr.Blocks():
        settings = compare.build(ctx)  # what the session and the profile see of the tab
    assert {"run", "output", "folder"} <= set(settings)
    defaults = {f"compare.{name}": box.value for name, box in settings.items()}
    after_reload = restored(ctx, defaults, dict(defaults))
    assert after_reload["compare.run"] == str(band / "runs" / "run-2")
    assert after_reload["compare.folder"] == str(band / "exports" / "chosen")


def test_render_grid_refuses_a_missing_run_folder_or_checkpoint_before_queueing(ctx, tmp_path):
    missing = tmp_path / "data" / "band" / "runs" / "nothing"
    with pytest.raises(UserError, match=f"Run folder: {missing} does not exist"):
        compare.start(ctx, compare_form(missing, tmp_path / "data" / "grid"))
    empty = tmp_path / "data" / "empty-run"
    empty.mkdir()
    with pytest.raises(UserError, match="Checkpoints: .*checkpoint 'best' not found"):
        compare.start(ctx, compare_form(empty, tmp_path / "data" / "grid"))
    with pytest.raises(UserError, match="Seconds per clip: -5 is below its minimum, 1"):
        compare.start(ctx, compare_form(make_run(tmp_path / "data"), tmp_path / "data" / "grid", duration=-5))
    assert ctx.jobs.jobs() == [] and not (tmp_path / "data" / "grid").exists()


def merge_form(checkpoint: Path, merged: Path, strength) -> ExportForm:
    return ExportForm.of(dict(checkpoint=str(checkpoint), formats=["acestep"], output="", trigger="",
                              lokr_as_lora=False, model="tiny-turbo", strength=strength, merged=str(merged)))


def test_merge_strength_out_of_range_is_refused_and_the_result_names_path_and_strength(ctx, tmp_path):
    final = make_run(tmp_path / "data") / "final"
    merged = tmp_path / "data" / "merged"
    for typed, said in ((5, "Merge strength: 5 is outside its range, 0 to 2; nothing was started"),
                        (-0.5, "Merge strength: -0.5 is outside its range, 0 to 2"), ("", "Merge strength: enter a")):
        with pytest.raises(UserError, match=said):
            export.merge(ctx, merge_form(final, merged, typed))
    assert ctx.jobs.jobs() == []  # never run at a clamped value
    started = export.merge(ctx, merge_form(final, merged, 1.5))
    assert f"Merging {final} into tiny-turbo at strength 1.5, into {merged}." in started
    with pytest.raises(UserError, match="merge job .* is already writing"):
        export.merge(ctx, merge_form(final, merged, 1.5))  # a double click: one job
    done = settle(ctx.jobs, ctx.jobs.latest("merge").id, ("finished", "failed"), JOB_WAIT)
    status = kind_status(ctx.jobs, "merge")
    assert done.status == "finished", status
    assert "at strength 1.5" in status and str(merged) in status  # not only "finished"


def test_preprocess_and_estimate_take_one_click_each(ctx):
    demo = build_trainer_app(ctx)
    for api_name in ("start_preprocess", "estimate"):
        assert wired(demo, api_name).trigger_mode == "once", api_name  # the browser drops a second click


def test_a_second_preprocess_into_the_same_folder_is_refused(ctx, tmp_path):
    from app.forms import PreprocessForm
    from app.tabs import preprocess

    songs = tmp_path / "data" / "songs"
    songs.mkdir()
    form = PreprocessForm.of(dict(model="tiny-turbo", source_kind="Song folder", source=str(songs),
                                  output=str(tmp_path / "data" / "tensors"), max_duration=240, normalize="peak",
                                  two_pass=False, tag="", tag_position="prepend"))
    first = preprocess.start(ctx, form)
    with pytest.raises(UserError, match="preprocess job .* is already writing .*nothing new was queued"):
        preprocess.start(ctx, form)
    assert len([j for j in ctx.jobs.jobs() if j.kind == "preprocess"]) == 1 and "preprocess job" in first
    for queued in ctx.jobs.jobs():
        ctx.jobs.stop(queued.id)
        settle(ctx.jobs, queued.id, ("stopped", "failed", "finished"), JOB_WAIT)


def test_the_trigger_word_comes_back_after_a_reload_and_export_takes_the_runs(ctx, tmp_path):
    with gr.Blocks():
        typed_before = gr.Textbox(label="Trigger word")  # built without a value: None here, "" in the page
    ctx.work_root.mkdir(parents=True, exist_ok=True)
    (ctx.work_root / "settings.json").write_text(json.dumps({"train.trigger": "zzq"}))
    assert restored(ctx, {"train.trigger": typed_before.value}, {"train.trigger": ""}) == {"train.trigger": "zzq"}
    run = make_run(tmp_path / "data")
    (run / "run.json").write_text(json.dumps({"config": {"trigger_word": "zzq"}}))
    assert export.find(ctx, str(run), "")[1] == "zzq"
    assert export.find(ctx, str(run), "mine")[1] == "mine"  # a typed one is kept


def test_the_layer_estimate_reports_back_in_its_tab(ctx, tmp_path, tiny_original):
    from train_data import make_tensors

    tensors = make_tensors(tmp_path / "data", tiny_original, "turbo")
    form = values(model="tiny-turbo", tensors=str(tensors), output=str(tmp_path / "data" / "run"), gpus=[])
    assert "No estimate job yet." == train_actions.estimate_status(ctx)
    said = train_actions.estimate(ctx, form)
    assert "estimate job" in said and "'Layer sensitivity'" in said
    done = settle(ctx.jobs, ctx.jobs.latest("estimate").id, ("finished", "failed"), JOB_WAIT)
    report = train_actions.estimate_status(ctx)
    assert done.status == "finished", report
    assert "layers selected" in report and str(tmp_path / "data" / "run" / "estimate.json") in report
    assert "Tick 'Train the layers the estimate chose'" in report


def test_an_offline_download_says_what_to_fetch_and_each_app_shows_its_own(ctx, tmp_path, tiny_original):
    import shutil

    root = tmp_path / "ck"
    for part in ("vae", "Qwen3-Embedding-0.6B"):  # what the demo model put there: the hub is never asked for it
        shutil.copytree(tiny_original / part, root / part)
    with pytest.raises(DownloadError) as failed:
        download_model("turbo", root, endpoint=f"http://127.0.0.1:{free_port()}")  # nothing answers there
    message = str(failed.value)
    assert "download finished" not in message and "acestep-v15-turbo is still incomplete (missing" in message
    assert "Without internet, fetch these" in message and "acestep-v15-turbo/*" in message
    ctx.jobs.submit("caption_download", ["--no-such-flag"], tmp_path / "data" / "dl", gpus=[])
    assert kind_status(ctx.jobs, service.DOWNLOAD) == "No download job yet."  # the captioner's is its own
    demo_ctx = AppContext(ctx.settings, tmp_path / "data" / "ck", ctx.work_root)
    said, table = service.write_demo(demo_ctx)
    assert said.startswith("Wrote the tiny demo model: tiny-turbo, tiny-base in")
    assert {row[0] for row in table} == {"tiny-turbo", "tiny-base"}


def test_jobs_table_says_what_an_exit_code_means_and_cpu_without_a_gpu(ctx, tmp_path):
    from job_helpers import FAKE
    from acestep_train.jobs import JobStore

    store = JobStore(ctx.work_root / "jobs", launcher=FAKE)
    partial = store.submit("preprocess", ["ok"], tmp_path / "data" / "p", gpus=[0])
    settle(store, partial.id, ("finished",))
    store.finish(partial.id, EXIT_PARTIAL)  # as the wrapper records a batch that skipped a song
    refused = store.submit("merge", ["ok"], tmp_path / "data" / "m", gpus=[])
    settle(store, refused.id, ("finished",))
    store.finish(refused.id, 2)
    rows = {row[0]: row for row in jobs_panel.job_rows(store, has_gpu=False)}
    assert rows[partial.id][5:] == ["10 (finished, some songs skipped)", "CPU"]
    assert rows[refused.id][5:] == ["2 (refused: bad input, see the log)", "CPU"]
    assert jobs_panel.job_rows(store, has_gpu=True)[-1][6] == "0"


def test_wording_a_newcomer_reads(ctx):
    from app import train_settings as ts

    with pytest.raises(UserError, match="Enter an output folder"):
        ctx.path("", "output folder")
    with pytest.raises(ValueError, match="Learning rate must be above 0; 0 was typed"):
        ts.chosen(values(lr=0))
    assert ts.readable("optim.lr must be > 0") == "Learning rate (optim.lr) must be > 0"
    noisy = "Note: Illegal Audio-MPEG-Header 0x00000000 at offset 166.\nNote: Hit end of (available) data during resync."
    assert "resync" not in describe(job("running"), [], noisy + "\nloading the VAE") and \
        describe(job("running"), [], noisy + "\nloading the VAE").endswith("loading the VAE")
    event = {"done": 5, "skipped": 0, "removed": 0, "failed": []}
    assert summary_lines(event, "autolabel") == ["Summary: 5 labelled, 0 failed"]  # BPM/key alone: not captions


def test_a_reload_asks_before_losing_an_edit_and_comes_back_to_the_tab(ctx):
    demo = build_trainer_app(ctx)
    scripts = [fn.js for fn in demo.fns.values() if fn.js]
    assert browser_js.ON_LOAD in scripts and browser_js.EDITED in scripts and browser_js.SAVED in scripts
    assert "beforeunload" in browser_js.ON_LOAD and "sessionStorage" in browser_js.ON_LOAD


def test_score_grid_queues_a_score_only_job_for_a_rendered_grid(ctx, tmp_path):
    grid = tmp_path / "data" / "grid"
    with pytest.raises(UserError, match="holds no grid.json yet"):
        compare.rescore(ctx, str(grid), "", "")
    grid.mkdir()
    (grid / "grid.json").write_text("{}")
    with pytest.raises(Exception, match="outside the folders this studio serves"):
        compare.rescore(ctx, str(grid), "/etc", "")
    songs = tmp_path / "data" / "songs"
    status, shown = compare.rescore(ctx, str(grid), "", str(songs))
    (job,) = ctx.jobs.jobs()
    assert status.startswith(f"scoring job {job.id}") and shown == ""  # the grid shows again when it ends
    assert job.kind == "compare" and job.args == ["--score-only", str(grid), "--reference", str(songs)]
    ended = settle(ctx.jobs, job.id, ("finished", "failed"), JOB_WAIT)
    assert ended.status == "failed" and "not a listening bench grid (no spec)" in ctx.jobs.log_tail(job.id)
