"""``launch.py`` serves the trainer shell on loopback without loading a model."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.settings import make_settings

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], wait_for: str, timeout: float = 90):
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "launch.py"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if wait_for in line:
            return proc, lines
    proc.kill()
    raise AssertionError("launch did not print " + repr(wait_for) + ":\n" + "".join(lines))


@pytest.fixture
def launched(tmp_path):
    procs = []

    def _launch(extra: list[str], wait_for: str = "ACE-Step Studio trainer: "):
        proc, lines = start([*extra, "--checkpoint-dir", str(tmp_path / "ck")], wait_for)
        procs.append(proc)
        return proc, lines

    yield _launch
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def test_trainer_starts_on_loopback_and_prints_url(launched):
    port = free_port()
    proc, lines = launched(["--port", str(port)])
    assert f"ACE-Step Studio trainer: http://127.0.0.1:{port}" in lines[-1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/config") as response:
        config = response.read().decode()
    for tab in ("Service", "Dataset", "Train", "Export"):
        assert tab in config
    assert not any("Loading weights" in line for line in lines)


def test_exposed_without_auth_gets_a_generated_password(launched):
    # A non-loopback bind address is "exposed" exactly like --share (tests never contact a share server).
    port = free_port()
    proc, lines = launched(["--port", str(port), "--host", "0.0.0.0"], wait_for="Login: studio / ")
    password = lines[-1].split("Login: studio / ")[1].split()[0]
    assert len(password) >= 12
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/config")
    assert denied.value.code == 401


def test_file_route_refuses_paths_outside_roots(launched):
    port = free_port()
    launched(["--port", str(port)])
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/file=/etc/passwd")
    assert denied.value.code in (403, 404)


def test_settings_rules(tmp_path):
    assert make_settings("0.0.0.0", 7861, False, None, [str(tmp_path)], False).generated_password
    shared = make_settings("127.0.0.1", 7861, True, None, [str(tmp_path)], False)
    assert shared.exposed and shared.generated_password and len(shared.auth[1]) >= 12
    assert not make_settings("127.0.0.1", 7861, False, None, [str(tmp_path)], False).auth
    assert make_settings("::1", 7861, True, "me:pa:ss", [str(tmp_path)], False).auth == ("me", "pa:ss")
    with pytest.raises(ValueError, match="a filesystem root cannot be served"):
        make_settings("127.0.0.1", 7861, False, None, ["/"], False)
    with pytest.raises(ValueError, match="--auth must be USER:PASS"):
        make_settings("127.0.0.1", 7861, False, "nopassword", [str(tmp_path)], False)


def test_mode_both_runs_two_linked_apps_with_one_login(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "launch.py"), "--mode", "both", "--port", str(port),
                             "--host", "0.0.0.0", "--checkpoint-dir", str(tmp_path / "ck")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    try:
        login = proc.stdout.readline()
        assert login.startswith("Login for both apps: studio / ")
        user, password = "studio", login.split(" / ")[1].strip()
        seen = ""
        deadline = time.monotonic() + 90
        while ("captioner:" not in seen or "trainer:" not in seen) and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        from gradio_client import Client

        trainer = Client(f"http://127.0.0.1:{port}", auth=(user, password), verbose=False)
        captioner = Client(f"http://127.0.0.1:{port + 1}", auth=(user, password), verbose=False)
        assert f":{port + 1}" in str(trainer.config) and f":{port})" in str(captioner.config)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode is not None
