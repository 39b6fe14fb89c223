"""The Train tab refuses a run folder in use or holding an earlier run before anything is queued or written,
and proposes the next free folder (no browser: the functions behind the buttons)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import train_actions as actions
from app.context import AppContext
from app.errors import UserError
from app.settings import make_settings
from test_app_status import values

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ctx(tmp_path) -> AppContext:
    roots = [str(tmp_path / "ck"), str(tmp_path / "data"), str(tmp_path / "state")]
    return AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tmp_path / "ck", tmp_path / "state")


@pytest.fixture
def earlier(tmp_path) -> Path:
    """A run folder holding a finished run, and a tensor folder to train from."""
    run = tmp_path / "data" / "run"
    (run / "final").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (tmp_path / "data" / "tensors").mkdir()
    (tmp_path / "data" / "tensors" / "manifest.json").write_text("{}")
    return run


def test_start_over_an_earlier_run_is_refused_before_queueing(ctx, earlier, tmp_path):
    form = values(tensors=str(tmp_path / "data" / "tensors"), output=str(earlier), advanced='{"seed": 3}')
    with pytest.raises(UserError) as refused:
        actions.start(ctx, form)
    message = str(refused.value)
    assert f"{earlier} holds an earlier run (run.json, final)" in message
    assert f"'Use a new run folder' ({earlier.parent / 'run-2'})" in message and "'Archive the earlier run'" in message
    assert ctx.jobs.jobs() == [] and not (earlier / "advanced.json").exists()  # nothing queued, nothing written
    with pytest.raises(UserError, match="choose one"):
        actions.check_run_folder(ctx, earlier, earlier / "checkpoints" / "3", archive=True)
    actions.check_run_folder(ctx, earlier, None, archive=True)  # the user chose: accepted
    assert actions.new_run_folder(ctx, str(earlier)) == str(earlier.parent / "run-2")
    assert actions.new_run_folder(ctx, str(earlier.parent / "fresh")) == str(earlier.parent / "fresh")


def test_start_into_a_folder_a_training_holds_is_refused(ctx, earlier):
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; "
                               "from acestep_train.train.run_folder import lock_run_folder; "
                               "lock = lock_run_folder(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()",
                               str(earlier)], cwd=REPO, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"another training process \\(pid {holder.pid}\\) is using this run"):
            actions.check_run_folder(ctx, earlier, None, archive=True)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
