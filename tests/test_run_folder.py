"""One run per run folder: a held folder refuses a second process; a fresh run never mixes with an earlier one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acestep_train.atomic_dir import is_complete
from acestep_train.cli import main
from acestep_train.train.run_folder import (
    LOCK,
    RunFolderError,
    check_free,
    holder_of,
    lock_run_folder,
    next_free_folder,
)
from acestep_train.train.setup import run_training
from train_data import make_tensors, tiny_settings

REPO = Path(__file__).resolve().parents[1]
HOLDER = ("import sys; from pathlib import Path; from acestep_train.train.run_folder import lock_run_folder; "
          "lock = lock_run_folder(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()")


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("runfolder"), tiny_original, "turbo", seconds=(1.6, 2.6))


def settings(tiny_original, tensors, output, **overrides):
    """Two epochs, a checkpoint every step, the last two kept."""
    return tiny_settings(tiny_original, tensors, output, **{
        "loop.epochs": 2, "checkpoint.save_every_steps": 1, "checkpoint.save_every_epochs": 0,
        "checkpoint.keep_last": 2, **overrides})


def cli_args(tiny_original, tensors, output, *extra) -> list[str]:
    return ["train", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--dataset-dir",
            str(tensors), "--output-dir", str(output), "--epochs", "1", "--max-latent-length", "30", "--rank", "4",
            "--alpha", "4", *extra]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def held(tmp_path):
    """Another process holding ``tmp_path / 'run'``'s lock until the test ends (or kills it)."""
    output = tmp_path / "run"
    output.mkdir()
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(output)], cwd=REPO, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == "held"  # waits for the lock to be taken
    yield output, process
    if process.poll() is None:
        process.stdin.close()
        process.wait(timeout=60)


def test_a_second_training_process_is_refused_at_once_and_writes_nothing(held, tiny_original, tensors):
    output, holder = held
    before = snapshot(output)
    result = subprocess.run([sys.executable, "-m", "acestep_train", *cli_args(tiny_original, tensors, output)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"{output}: another training process (pid {holder.pid}) is using this run folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(output) == before  # no events, no run.json, no tb/, no control/
    assert holder_of(output)["pid"] == holder.pid
    with pytest.raises(RunFolderError, match=f"pid {holder.pid}"):
        check_free(output)  # what the UI asks before it queues a run


def test_a_second_train_beside_a_running_one_is_refused(tiny_original, tensors, tmp_path):
    """A real training run holds the folder; a second one is refused naming it; the first finishes untouched."""
    output = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "acestep_train",
                              *cli_args(tiny_original, tensors, output)[:-6], "--epochs", "1000"],
                             cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        events = output / "events.jsonl"
        deadline = time.monotonic() + 300
        while not (events.is_file() and '"event": "step"' in events.read_text()):  # wait until it is training
            assert first.poll() is None and time.monotonic() < deadline, "the first run never reached a step"
            time.sleep(0.1)  # a poll interval, not a wait for something to happen
        second = subprocess.run([sys.executable, "-m", "acestep_train", *cli_args(tiny_original, tensors, output)],
                                cwd=REPO, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1
        assert f"{output}: another training process (pid {first.pid}) is using this run folder" in second.stderr
        (output / "control" / "stop").touch()  # the first run stops as asked: it saves and exits 0
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert "stopped on request" in first.stdout.read() and not (output / LOCK).exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(held):
    output, holder = held
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=60)
    assert (output / LOCK).is_file()  # the file stays; the kernel dropped the lock with the process
    assert holder_of(output) == {}
    check_free(output)
    lock = lock_run_folder(output)
    try:
        assert holder_of(output) == {"pid": os.getpid(), "token": lock.token, "started": pytest.approx(0, abs=1e12)}
    finally:
        lock.release()
    assert not (output / LOCK).exists()


def test_next_free_folder_counts_up(tmp_path):
    (tmp_path / "run").mkdir()
    assert next_free_folder(tmp_path / "run") == tmp_path / "run-2"
    (tmp_path / "run-2").mkdir()
    (tmp_path / "run-3").mkdir()
    assert next_free_folder(tmp_path / "run") == tmp_path / "run-4"
    assert next_free_folder(tmp_path / "run-3") == tmp_path / "run-4"


def test_a_fresh_run_over_a_finished_run_is_refused_archived_or_resumed(tiny_original, tensors, tmp_path):
    run = tmp_path / "run"
    first = run_training(settings(tiny_original, tensors, run))
    old_steps = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert first["steps"] == 4 and old_steps == ["3", "4"]
    (run / "estimate.json").write_text("{}")  # the user's input beside the run: never archived
    before = snapshot(run)
    with pytest.raises(RunFolderError) as refused:
        run_training(settings(tiny_original, tensors, run))
    message = str(refused.value)
    assert f"{run} holds an earlier run (run.json, checkpoints, best, final)" in message
    assert "--resume-from latest" in message and str(tmp_path / "run-2") in message and "--archive-previous" in message
    assert snapshot(run) == before

    # The CLI says the same, without a traceback.
    assert main(cli_args(tiny_original, tensors, run)) == 1

    # Resume continues the same run: its checkpoints stay its own.
    resumed = run_training(settings(tiny_original, tensors, run, **{"loop.epochs": 3}, resume_from="latest"))
    assert resumed["steps"] == 6
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["5", "6"]

    # Archive: the earlier run moves whole into archive/<time>/, the new run starts from step 1.
    second = run_training(settings(tiny_original, tensors, run, **{"loop.epochs": 1}), archive_previous=True)
    assert second["steps"] == 2
    archives = list((run / "archive").iterdir())
    assert len(archives) == 1
    old = archives[0]
    assert sorted(p.name for p in (old / "checkpoints").iterdir()) == ["5", "6"]
    assert all(is_complete(p) for p in (old / "checkpoints").iterdir()) and is_complete(old / "final")
    assert (old / "run.json").is_file() and (old / "events.jsonl").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["1", "2"]  # not pruned by the old 5, 6
    assert (run / "estimate.json").is_file() and not (old / "estimate.json").exists()
    assert not (run / LOCK).exists()


def test_resume_from_another_folder_into_a_used_one_is_refused(tiny_original, tensors, tmp_path):
    run_training(settings(tiny_original, tensors, tmp_path / "a", **{"loop.epochs": 1}))
    run_training(settings(tiny_original, tensors, tmp_path / "b", **{"loop.epochs": 1}))
    with pytest.raises(RunFolderError, match="a checkpoint of another folder, would mix two runs"):
        run_training(settings(tiny_original, tensors, tmp_path / "b",
                              resume_from=str(tmp_path / "a" / "checkpoints" / "2")))
    with pytest.raises(RunFolderError, match="choose one"):
        run_training(settings(tiny_original, tensors, tmp_path / "b", resume_from="latest"), archive_previous=True)
