"""One studio on the demo model for every browser test of a session (starting one takes a loaded 2-core
machine half a minute or more); each test works in its own folders under ``studio.base / "datasets"``."""

from __future__ import annotations

import pytest
from studio_page import Studio
from test_launch import free_port


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    pytest.importorskip("playwright", reason="playwright (requirements-dev.txt) is not installed")
    studio = Studio(tmp_path_factory.mktemp("studio"), free_port())
    yield studio
    studio.stop()
