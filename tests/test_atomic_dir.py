"""Atomic folders and the checkpoint list: only whole folders are seen, resumed from, or pruned."""

from __future__ import annotations

import os

import pytest
from safetensors.torch import save_file
import torch

from acestep_train.atomic_dir import (MARKER, IncompleteFolder, atomic_dir, is_complete, remove_stale_partials,
                                      verify)
from acestep_train.train.checkpoints import check_run_folders, latest_checkpoint, prune, resolve_resume


def write_checkpoint(folder, value=1.0):
    with atomic_dir(folder) as tmp:
        save_file({"w": torch.full((4,), value)}, str(tmp / "adapter_model.safetensors"))
        (tmp / "trainer_state.pt").write_bytes(b"state")
    return folder


def test_a_failed_write_leaves_nothing_under_the_real_name(tmp_path):
    target = tmp_path / "checkpoints" / "5"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "adapter_model.safetensors").write_bytes(b"half")
            raise RuntimeError("disk full")
    assert not target.exists() and os.listdir(target.parent) == []


def test_a_truncated_safetensors_file_is_never_sealed(tmp_path):
    with pytest.raises(IncompleteFolder, match="truncated"):
        with atomic_dir(tmp_path / "best") as tmp:
            save_file({"w": torch.ones(64)}, str(tmp / "adapter_model.safetensors"))
            data = (tmp / "adapter_model.safetensors").read_bytes()
            (tmp / "adapter_model.safetensors").write_bytes(data[:-10])
    assert not (tmp_path / "best").exists()


def test_replacing_keeps_one_whole_folder_and_verify_catches_changes(tmp_path):
    folder = write_checkpoint(tmp_path / "final", 1.0)
    write_checkpoint(tmp_path / "final", 2.0)
    assert sorted(os.listdir(tmp_path)) == ["final"]
    verify(folder)
    (folder / "trainer_state.pt").write_bytes(b"other")
    with pytest.raises(IncompleteFolder, match="differs"):
        verify(folder)


def test_latest_skips_partial_folders_with_a_warning(tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    write_checkpoint(checkpoints / "3")
    (checkpoints / "4").mkdir()  # a save interrupted by an older version: only the weights
    (checkpoints / "4" / "adapter_model.safetensors").write_bytes(b"x")
    warnings = []
    assert latest_checkpoint(checkpoints, warnings.append) == checkpoints / "3"
    assert "4" in warnings[0] and "incomplete" in warnings[0]
    assert resolve_resume("latest", tmp_path / "run", warnings.append) == checkpoints / "3"
    with pytest.raises(IncompleteFolder, match="not a complete checkpoint"):
        resolve_resume(str(checkpoints / "4"), tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        resolve_resume("latest", tmp_path / "empty")


def test_prune_removes_only_complete_folders_it_wrote(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step in (1, 2, 3, 4):
        write_checkpoint(checkpoints / str(step))
    (checkpoints / "0").mkdir()  # the user's own, unmarked: never deleted
    (checkpoints / "0" / "notes.txt").write_text("mine")
    prune(checkpoints, keep=2)
    assert sorted(os.listdir(checkpoints)) == ["0", "3", "4"]


def test_prune_never_counts_checkpoints_past_the_step_just_saved(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step in (12, 18, 24, 13):  # a run resumed from 12 has just saved 13: 18 and 24 are another history
        write_checkpoint(checkpoints / str(step))
    assert prune(checkpoints, keep=2, upto_step=13) == []
    write_checkpoint(checkpoints / "14")
    assert prune(checkpoints, keep=2, upto_step=14) == [checkpoints / "12"]
    assert sorted(os.listdir(checkpoints), key=int) == ["13", "14", "18", "24"]


def test_stale_partials_are_ours_only(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(tmp_path / "7") as tmp:
            kept = tmp.with_name(tmp.name + "-copy")
            os.rename(tmp, kept)  # as a kill -9 would leave it: the writing marker is inside
            raise KeyboardInterrupt
    (tmp_path / ".hidden.partial-user").mkdir()  # a dot folder with our pattern but not our marker
    assert remove_stale_partials(tmp_path) == [kept]
    assert (tmp_path / ".hidden.partial-user").is_dir()


def test_symlinked_run_folders_are_refused(tmp_path):
    outside = tmp_path / "outside"
    (outside / "precious").mkdir(parents=True)
    (outside / "precious" / MARKER).write_text('{"files": {}}')  # even a forged marker does not help
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="symbolic link"):
        check_run_folders(run)
    with pytest.raises(ValueError, match="symbolic link"):
        prune(run / "checkpoints", keep=1)
    with pytest.raises(ValueError, match="symbolic link"):
        write_checkpoint(run / "checkpoints" / "1")
    assert (outside / "precious").is_dir() and not (outside / "1").exists()
    assert not is_complete(run / "checkpoints")


def test_the_ui_offers_only_complete_checkpoints(tmp_path):
    from app.train_actions import run_checkpoints

    write_checkpoint(tmp_path / "checkpoints" / "3")
    (tmp_path / "checkpoints" / "4").mkdir()
    (tmp_path / "checkpoints" / "4" / "adapter_model.safetensors").write_bytes(b"half")
    (tmp_path / "final").mkdir()  # unmarked: not offered
    assert run_checkpoints(tmp_path, resumable_only=False) == [str(tmp_path / "checkpoints" / "3")]
