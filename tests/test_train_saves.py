"""Saves on a bad day: a full disk names the save and keeps the older checkpoints; leftovers of a kill
are cleaned at the next start; every file the studio writes gets the user's umask."""

from __future__ import annotations

import builtins
import errno
import io
import os
import stat

import pytest

from acestep_train.atomic_dir import is_complete, stale_partials, verify
from acestep_train.cli import main
from acestep_train.events import read_events
from acestep_train.tensors import read_sample, write_sample
from acestep_train.train import state
from acestep_train.train.config import load_config
from acestep_train.train.setup import run_training
from train_data import make_tensors


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("saves"), tiny_original, "turbo", seconds=(1.6, 2.6))


def args(tiny_original, tensors, output) -> list[str]:
    return ["train", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--dataset-dir",
            str(tensors), "--output-dir", str(output), "--epochs", "2", "--max-latent-length", "30", "--rank", "4",
            "--alpha", "4", "--save-every-steps", "1", "--save-every", "0", "--keep-last", "5"]


class FullDisk(io.BytesIO):
    """A file on a full disk: every write fails as the kernel fails it (ENOSPC)."""

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_names_the_save_and_keeps_older_checkpoints(tiny_original, tensors, tmp_path, monkeypatch,
                                                                 capsys):
    opened = []

    def full_from_the_second_save(path, mode="r", *rest, **kwargs):
        """Fault injection: the trainer state of the second checkpoint meets a full disk."""
        opened.append(path)
        return FullDisk() if len(opened) >= 2 else builtins.open(path, mode, *rest, **kwargs)

    monkeypatch.setattr(state, "open", full_from_the_second_save, raising=False)
    run = tmp_path / "run"
    assert main(args(tiny_original, tensors, run)) == 1
    error = capsys.readouterr().err
    assert (f"error: Out of disk space while saving checkpoint 2 to {run / 'checkpoints' / '2'}; "
            "older checkpoints are intact") in error
    assert "inline_container" not in error and "Traceback" not in error
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["1"]
    verify(run / "checkpoints" / "1")  # the older checkpoint is whole
    assert stale_partials(run / "checkpoints") == [] and not (run / ".studio-lock").exists()


def test_empty_temp_folders_of_a_kill_are_cleaned_at_the_next_start(tiny_original, tensors, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / ".3.partial-0123abcd").mkdir(parents=True)  # killed between mkdir and its marker
    (run / ".best.partial-89abcdef").mkdir()
    (run / ".notes.partial-mine").mkdir()  # not our exact pattern: the user's, kept
    (run / "checkpoints" / ".4.partial-0123abce").mkdir()
    (run / "checkpoints" / ".4.partial-0123abce" / "keep.txt").write_text("not empty, no marker: not ours")
    result = run_training(load_config(None, {
        "checkpoint_dirs": [str(tiny_original)], "model_variant": "turbo", "dataset_dir": str(tensors),
        "output_dir": str(run), "loop.epochs": 1, "data.max_latent_length": 30, "adapter.rank": 4,
        "adapter.alpha": 4.0}))
    assert result["steps"] == 2
    assert not (run / "checkpoints" / ".3.partial-0123abcd").exists() and not (run / ".best.partial-89abcdef").exists()
    assert (run / ".notes.partial-mine").is_dir() and (run / "checkpoints" / ".4.partial-0123abce" / "keep.txt").is_file()
    warnings = [e["message"] for e in read_events(run / "events.jsonl") if e["event"] == "warning"]
    assert sum("removed an interrupted save's temporary folder" in w for w in warnings) == 2


def test_adapter_and_tensor_files_get_the_umask(tiny_original, tensors, tmp_path):
    old = os.umask(0o027)
    try:
        run = tmp_path / "run"
        assert main(args(tiny_original, tensors, run)[:-6] + ["--epochs", "1"]) == 0
        sample = sorted(tensors.glob("*.safetensors"))[0]
        write_sample(tmp_path / "copy.safetensors", read_sample(sample))
    finally:
        os.umask(old)
    written = [tmp_path / "copy.safetensors", *(p for p in run.rglob("*") if p.is_file() and p.name != "events.jsonl")]
    assert any(p.name == "adapter_model.safetensors" for p in written)
    assert any(p.name == "trainer_state.pt" for p in written)
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in written}
    assert set(modes.values()) == {"0o640"}, modes  # 0o666 less the umask, never 0o600
    assert is_complete(run / "final")


def test_a_stop_left_from_an_earlier_run_never_stops_this_one(tiny_original, tensors, tmp_path):
    """A Stop pressed for a run that had already died stays in ``control/``; the next run ignores it and says so."""
    run = tmp_path / "run"
    (run / "control").mkdir(parents=True)
    for request in ("stop", "sample"):
        (run / "control" / request).touch()
        os.utime(run / "control" / request, (1_000_000_000, 1_000_000_000))  # written long before this process
    assert main(args(tiny_original, tensors, run)) == 0
    events = read_events(run / "events.jsonl")
    finished = [e for e in events if e["event"] == "finished"]
    assert finished and max(e["step"] for e in events if e["event"] == "step") == 2 * 2  # both epochs ran
    warnings = " ".join(e["message"] for e in events if e["event"] == "warning")
    assert "ignored a 'stop' request" in warnings and "ignored a 'sample' request" in warnings
    assert not any(e["event"] == "samples" for e in events)  # the stale sample request rendered nothing
    assert list((run / "control").iterdir()) == []
