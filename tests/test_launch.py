"""``launch.py`` serves the trainer shell on loopback without loading a model."""

from __future__ import annotations

import os
import signal
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


def start(args: list[str], wait_for: str, timeout: float = 240):
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


def wait_status(client, kind: str, done: str, timeout: float = 240) -> str:
    """Poll the app's status line for the newest job of ``kind`` until it shows ``done`` or a failure."""
    deadline, status = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        status = client.predict(kind, api_name="/job_status")
        if done in status or ": failed" in status:
            return status
        time.sleep(1.0)
    raise AssertionError(f"{kind} never reached {done!r}: {status}")


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
    _, lines = launched(["--port", str(port)])
    assert f"ACE-Step Studio trainer: http://127.0.0.1:{port}" in lines[-1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/config") as response:
        config = response.read().decode()
    for tab in ("Service", "Dataset", "Train", "Export"):
        assert tab in config
    assert not any("Loading weights" in line for line in lines)
    state = Path(os.environ["ACESTEP_STUDIO_STATE"]).resolve()
    assert f"Jobs live in {state / 'jobs'} (the studio's own state folder)\n" in lines


def test_exposed_without_auth_gets_a_generated_password(launched):
    # A non-loopback bind address is "exposed" exactly like --share (tests never contact a share server).
    port = free_port()
    _, lines = launched(["--port", str(port), "--host", "0.0.0.0"], wait_for="Login: studio / ")
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


def test_the_state_folder_is_chosen_outside_every_root(tmp_path, monkeypatch, capsys):
    import launch
    from acestep_train.studio_state import default_state_dir
    from app.context import AppContext

    data = tmp_path / "data"
    for inside in (data / "state", data):
        code = launch.main(["--root", str(data), "--checkpoint-dir", str(tmp_path / "ck"), "--state-dir", str(inside)])
        assert code == 2 and "inside the served folder" in capsys.readouterr().err  # refused before serving
    monkeypatch.delenv("ACESTEP_STUDIO_STATE")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "acestep-studio"
    settings = make_settings("127.0.0.1", 7861, False, None, [str(data)], False)
    assert settings.state_dir == (tmp_path / "xdg" / "acestep-studio").resolve()
    assert settings.state_dir.stat().st_mode & 0o777 == 0o700
    old = data.resolve() / "jobs" / "20260101-000000-train-abcdef"  # where an earlier version kept its records
    old.mkdir(parents=True)
    (old / "job.json").write_text("{}")
    launch.say_where_jobs_live(AppContext(settings, tmp_path / "ck", data.resolve()), data.resolve())
    said = capsys.readouterr().out
    assert f"Jobs live in {settings.state_dir / 'jobs'}" in said and f"{old.parent} by an earlier version" in said
    assert (old / "job.json").read_text() == "{}"  # nothing moved


def children_of(pid: int) -> dict[int, str]:
    """{pid: command line} of a process's children (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_mode_both_runs_two_linked_apps_with_one_login_and_stops_them_together(tmp_path):
    from gradio_client import Client

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
        assert "Login: " not in seen  # the children use the parent's login; they make up none of their own
        trainer = Client(f"http://127.0.0.1:{port}", auth=(user, password), verbose=False)
        captioner = Client(f"http://127.0.0.1:{port + 1}", auth=(user, password), verbose=False)
        # The link uses the host the page was opened with, so it works from another machine too.
        assert trainer.predict(api_name="/peer_link") == f"[Open the captioner](http://127.0.0.1:{port + 1})"
        assert captioner.predict(api_name="/peer_link") == f"[Open the trainer](http://127.0.0.1:{port})"
        children = children_of(proc.pid)
        assert all(password not in command for command in children.values())  # not visible in ps
        caption_pid = next(pid for pid, command in children.items() if "--mode caption" in command)
        os.kill(caption_pid, signal.SIGKILL)  # one app dies: the other is stopped with it
        assert proc.wait(timeout=40) is not None
        assert not children_of(proc.pid) and all(not Path(f"/proc/{pid}").exists() for pid in children)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
