"""The project and the settings that survive a reload (no browser: the functions behind them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.context import AppContext
from app.errors import UserError
from app.project import Project, load_project
from app.session import opened, remember, restored, saved_settings
from app.settings import make_settings
from app.tabs.project import open_project


@pytest.fixture
def ctx(tmp_path) -> AppContext:
    roots = [str(tmp_path / "ck"), str(tmp_path / "data"), str(tmp_path / "state")]
    return AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tmp_path / "ck", tmp_path / "state")


def test_a_project_is_made_once_remembered_and_gives_every_tab_its_folders(ctx, tmp_path):
    project, message = open_project(ctx, str(tmp_path / "data" / "band"))
    assert message.startswith("Created songs, tensors, runs, exports in")
    assert all((project.folder / part).is_dir() for part in ("songs", "tensors", "runs", "exports"))
    assert load_project(ctx.work_root) == project  # a reload or a restarted studio finds it
    assert open_project(ctx, str(project.folder))[1].startswith("Opened")
    fields = project.fields()
    assert fields["dataset.folder"] == fields["preprocess.source"] == str(project.folder / "songs")
    assert fields["train.tensors"] == fields["preprocess.output"] == str(project.folder / "tensors")
    with pytest.raises(UserError, match="Enter a project folder"):
        open_project(ctx, "  ")  # never the app's own folder


def test_a_loaded_page_takes_typed_settings_over_the_project_and_keeps_what_is_being_typed(ctx, tmp_path):
    Project(tmp_path / "data" / "band").create()
    open_project(ctx, str(tmp_path / "data" / "band"))
    remember(ctx.work_root, {"train.epochs": 77, "dataset.folder": "/typed/songs"})
    defaults = {"train.epochs": 2, "dataset.folder": "/default", "train.tensors": "/default/t", "export.trigger": ""}
    page = {"train.epochs": 2, "dataset.folder": "/default", "train.tensors": "/default/t", "export.trigger": "zz"}
    changes = restored(ctx, defaults, page)
    assert changes == {"train.epochs": 77, "dataset.folder": "/typed/songs",
                       "train.tensors": str(tmp_path / "data" / "band" / "tensors")}
    (ctx.work_root / "settings.json").write_text("{broken")
    assert saved_settings(ctx.work_root) == {}  # said on the console; the defaults stand


def test_each_project_keeps_what_was_typed_for_it_and_the_machine_settings_follow_every_project(ctx, tmp_path):
    band, duo = tmp_path / "data" / "band", tmp_path / "data" / "duo"
    defaults = {"train.trigger": None, "train.lr": 3e-4, "train.model": "turbo", "train.output": "/default/run"}
    opened(ctx, str(band), defaults)
    remember(ctx.work_root, {"train.trigger": "zzband", "train.lr": 5e-5, "train.model": "tiny-turbo",
                             "train.output": str(band / "runs" / "v2")})
    message, shown = opened(ctx, str(duo), defaults)  # the band's trigger word never reaches the duo's run
    assert message.startswith("Created") and shown == {"train.trigger": None, "train.lr": 3e-4,
                                                        "train.output": str(duo / "runs" / "run")}
    assert saved_settings(ctx.work_root) == {"train.model": "tiny-turbo"}  # which model: this machine's, kept
    remember(ctx.work_root, {"train.trigger": "zzduo"})
    assert opened(ctx, str(band), defaults)[1] == {"train.trigger": "zzband", "train.lr": 5e-5,
                                                   "train.output": str(band / "runs" / "v2")}
    assert restored(ctx, defaults, dict(defaults)) == {"train.trigger": "zzband", "train.lr": 5e-5,
                                                       "train.model": "tiny-turbo",
                                                       "train.output": str(band / "runs" / "v2")}
    opened(ctx, str(duo), defaults)
    assert saved_settings(ctx.work_root)["train.trigger"] == "zzduo"


def test_settings_kept_by_an_earlier_version_belong_to_the_project_open_when_they_are_read(ctx, tmp_path):
    opened(ctx, str(tmp_path / "data" / "band"), {})
    (ctx.work_root / "settings.json").write_text(json.dumps({"train.trigger": "zzq", "train.model": "tiny-turbo"}))
    assert saved_settings(ctx.work_root) == {"train.trigger": "zzq", "train.model": "tiny-turbo"}
    remember(ctx.work_root, {"train.epochs": 9})  # written back in this version's shape
    opened(ctx, str(tmp_path / "data" / "duo"), {})
    assert saved_settings(ctx.work_root) == {"train.model": "tiny-turbo"}
    opened(ctx, str(tmp_path / "data" / "band"), {})
    assert saved_settings(ctx.work_root) == {"train.trigger": "zzq", "train.model": "tiny-turbo", "train.epochs": 9}


def test_the_train_monitor_shows_a_run_before_its_first_preview(ctx, tmp_path):
    from app.train_actions import monitor

    run = tmp_path / "state" / "run"
    job = ctx.jobs.submit("train", ["no-such-command"], run, gpus=[])
    run.mkdir(parents=True, exist_ok=True)
    (run / "events.jsonl").write_text(json.dumps({"time": job.created + 1, "event": "step", "step": 1, "epoch": 0,
                                                  "loss": 1.0, "smoothed_loss": 1.0, "lr": 1e-4, "eta_s": 9}) + "\n")
    shown = monitor(ctx, None, None)  # no samples event yet: empty players, no error
    assert shown["status"].startswith(f"train {job.id}") and "step 1" in shown["status"]
    assert [clip["value"] for clip in shown["clips"]] == [None, None, None]
