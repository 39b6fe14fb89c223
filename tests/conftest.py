"""Shared fixtures: the tiny ACE-Step 1.5 model, written once per session in both layouts."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tests never reach outside this machine: no Gradio analytics, no hub telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
# librosa's numba cache lives in site-packages by default; two test runs sharing one venv (worktrees)
# can corrupt it and segfault in chroma/tuning. One cache per checkout avoids the race.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / ("numba-" + hashlib.sha1(str(Path(__file__).resolve()).encode()).hexdigest()[:12]))
)

# The studio's own state (job records and the secret that signs them) never lands in the real home: one
# folder for the session and every studio it launches, and one of its own for each test.
_SESSION_STATE = tempfile.mkdtemp(prefix="acestep-studio-state-")
os.environ["ACESTEP_STUDIO_STATE"] = _SESSION_STATE
atexit.register(shutil.rmtree, _SESSION_STATE, True)

from acestep_train.models.tiny import write_demo_model  # noqa: E402


@pytest.fixture(autouse=True)
def studio_state(tmp_path_factory, monkeypatch) -> Path:
    """This test's state folder (``ACESTEP_STUDIO_STATE``), outside the test's own ``tmp_path`` roots."""
    folder = tmp_path_factory.mktemp("studio-state")
    monkeypatch.setenv("ACESTEP_STUDIO_STATE", str(folder))
    return folder


def demo_root(tmp_path_factory, name: str, layout: str, variants: tuple[str, ...]) -> Path:
    """A fresh checkpoint root holding the tiny demo model's ``variants`` in ``layout`` (seed 0)."""
    root = tmp_path_factory.mktemp(name)
    write_demo_model(root, layout, variants, seed=0)
    return root


@pytest.fixture(scope="session")
def tiny_original(tmp_path_factory) -> Path:
    """A checkpoint root in the original layout with tiny-turbo and tiny-base (seed 0)."""
    return demo_root(tmp_path_factory, "ckpt_original", "original", ("turbo", "base"))


@pytest.fixture(scope="session")
def tiny_diffusers(tmp_path_factory) -> Path:
    """The same turbo weights (seed 0) written as a diffusers pipeline folder."""
    return demo_root(tmp_path_factory, "ckpt_diffusers", "diffusers", ("turbo",))


@pytest.fixture(scope="session")
def tiny_xl(tmp_path_factory) -> Path:
    """A checkpoint root with tiny-xl-turbo and tiny-xl-base: ACE-Step 1.5 XL's shape ratios (seed 0)."""
    return demo_root(tmp_path_factory, "ckpt_xl", "original", ("xl-turbo", "xl-base"))


@pytest.fixture(scope="session")
def tiny_clap(tmp_path_factory) -> Path:
    """A tiny random-init CLAP (``tests/tiny_clap.py``) saved as ``clap-htsat-unfused`` is: config, weights, processor."""
    from tiny_clap import write_tiny_clap

    return write_tiny_clap(tmp_path_factory.mktemp("clap") / "clap-htsat-unfused")
