"""Paths as a hostile user plants them inside a root: symlinked sidecars, backups and folders, the jobs
folder, relative job ids. Nothing outside the roots is read, written or deleted."""

from __future__ import annotations

import json
import os
import stat

import gradio as gr
import pytest
import soundfile
from audio_fixtures import tone

from acestep_train.dataset.record import Sample
from acestep_train.dataset.sidecars import apply_sidecars, write_sidecar
from acestep_train.jobs import JobStore
from acestep_train.paths import ROOTS_ENV
from app.context import AppContext
from app.settings import make_settings
from app.tabs.jobs_panel import job_details, stop_job


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A root with one song, an outside folder with a secret, and the studio's roots in the environment."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    soundfile.write(root / "song.wav", tone(0.5), 48000)
    secret = outside / "secret.txt"
    secret.write_text("outside secret")
    monkeypatch.setenv(ROOTS_ENV, str(root))
    return root, secret


def test_a_symlinked_backup_is_replaced_not_written_through(planted):
    root, secret = planted
    (root / "song.json").write_text(json.dumps({"caption": "old"}))
    (root / "song.json.bak").symlink_to(secret)
    sample = Sample(root / "song.wav", caption="new")
    write_sidecar(sample)
    assert secret.read_text() == "outside secret" and stat.S_IMODE(secret.stat().st_mode) != 0o600
    assert not (root / "song.json.bak").is_symlink()
    assert json.loads((root / "song.json.bak").read_text()) == {"caption": "old"}
    assert json.loads((root / "song.json").read_text())["caption"] == "new"


def test_writes_keep_permissions_and_new_files_get_the_umask(planted):
    root, _ = planted
    (root / "song.json").write_text(json.dumps({"caption": "old"}))
    os.chmod(root / "song.json", 0o640)
    write_sidecar(Sample(root / "song.wav", caption="new"))
    assert stat.S_IMODE((root / "song.json").stat().st_mode) == 0o640
    umask = os.umask(0)
    os.umask(umask)
    (root / "song.json").unlink()
    write_sidecar(Sample(root / "song.wav", caption="fresh"))
    assert stat.S_IMODE((root / "song.json").stat().st_mode) == 0o666 & ~umask


def test_sidecars_that_link_outside_the_roots_are_not_read(planted):
    root, secret = planted
    (root / "song.caption.txt").symlink_to(secret)
    outside_json = secret.with_name("b.json")
    outside_json.write_text(json.dumps({"lyrics": "outside lyrics"}))
    (root / "song.json").symlink_to(outside_json)
    sample = Sample(root / "song.wav")
    apply_sidecars(sample)
    assert sample.caption == "" and sample.lyrics == ""
    assert sum("outside the studio's folders" in note for note in sample.notes) == 2
    sample.caption = "mine"
    write_sidecar(sample)  # replaces the link; copies nothing from outside into the root
    assert not (root / "song.json").is_symlink() and not (root / "song.json.bak").exists()
    assert json.loads(outside_json.read_text()) == {"lyrics": "outside lyrics"}


def test_a_link_inside_the_roots_is_still_read(planted):
    root, _ = planted
    (root / "shared.txt").write_text("a shared caption")
    (root / "song.caption.txt").symlink_to(root / "shared.txt")
    sample = Sample(root / "song.wav")
    apply_sidecars(sample)
    assert sample.caption == "a shared caption"


def test_loopback_paths_are_confined_and_the_job_records_are_out_of_reach(tmp_path):
    data = tmp_path / "data"
    settings = make_settings("127.0.0.1", 7861, False, None, [str(tmp_path / "ck"), str(data)], False,
                             state_dir=str(tmp_path / "state"))
    ctx = AppContext(settings, tmp_path / "ck", data)
    (data / "escape").symlink_to(tmp_path.parent, target_is_directory=True)
    (data / "into-state").symlink_to(tmp_path / "state", target_is_directory=True)
    for typed in ("/etc/passwd", str(data / "escape" / "x"), str(data / ".." / "x"),
                  str(ctx.jobs.root / "zzz" / "job.json"), str(data / "into-state" / "jobs" / "zzz")):
        with pytest.raises(gr.Error, match="outside the folders"):
            ctx.path(typed)
    assert ctx.path(str(data / "songs")) == (data / "songs").resolve()


def test_job_log_and_stop_refuse_relative_ids(tmp_path):
    other = JobStore(tmp_path / "other" / "jobs")  # another instance's job folder, next door
    (other.root / "x").mkdir()
    (other.root / "x" / "log.txt").write_text("another instance's log")
    store = JobStore(tmp_path / "mine" / "jobs")
    for bad in ("../../other/jobs/x", "../x", "x/../../../other/jobs/x"):
        with pytest.raises(gr.Error, match="No such job"):
            job_details(store, bad)
        with pytest.raises(gr.Error, match="No such job"):
            stop_job(store, bad)
    assert sorted(p.name for p in store.root.iterdir()) == [".lock"] or list(store.root.iterdir()) == []


def test_training_refuses_a_run_folder_whose_checkpoints_link_outside(tmp_path):
    from acestep_train.train.config import load_config
    from acestep_train.train.setup import run_training

    outside = tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    (outside / "1" / "precious.txt").write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(outside, target_is_directory=True)
    config = load_config(None, {"checkpoint_dirs": [str(tmp_path / "ck")], "dataset_dir": str(tmp_path / "t"),
                                "output_dir": str(run)})
    with pytest.raises(ValueError, match="checkpoints folder is a symbolic link"):
        run_training(config)
    assert (outside / "1" / "precious.txt").read_text() == "keep me"
