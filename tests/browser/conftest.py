"""One studio on the demo model for every browser test of a session (starting one takes a loaded 2-core
machine half a minute or more); each test works in its own folders under ``studio.base / "datasets"``."""

from __future__ import annotations

import pytest

from acestep_train.atomic import atomic_write_bytes
from app import project, session
from studio_page import Studio
from test_launch import free_port


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    pytest.importorskip("playwright", reason="playwright (requirements-dev.txt) is not installed")
    studio = Studio(tmp_path_factory.mktemp("studio"), free_port())
    yield studio
    studio.stop()


@pytest.fixture(autouse=True)
def settings_left_as_found(request):
    """A test that types into the shared studio's fields leaves them as it found them: the studio remembers
    every typed setting for the next page (``app/session.py``), so one test's "Validation every 2 steps" would
    otherwise reach the next test's training run."""
    if "studio" not in request.fixturenames:
        yield
        return
    folder = request.getfixturevalue("studio").base / "state"
    kept = {name: (folder / name).read_bytes() if (folder / name).is_file() else None
            for name in (session.FILE, project.FILE)}
    yield
    for name, data in kept.items():
        if data is None:
            (folder / name).unlink(missing_ok=True)
        else:
            atomic_write_bytes(folder / name, data)
