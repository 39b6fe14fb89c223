"""The gate in front of the apps, tried as an attacker would: DNS-rebinding Host and Origin headers,
password guessing, the password in a process list, a shared Gradio cache, a 0.0.0.0 link."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from test_launch import REPO, free_port, start

from acestep_train.jobs import JobStore
from app.guard import hostname
from app.peer import Peer, peer_url
from app.settings import make_settings


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    base = tmp_path_factory.mktemp("guard")
    port = free_port()
    proc, _ = start(["--port", str(port), "--auth", "me:right-pass", "--allow-host", "studio.lan",
                     "--checkpoint-dir", str(base / "ck"), "--root", str(base / "data")], "ACE-Step Studio trainer: ")
    yield f"http://127.0.0.1:{port}", port
    proc.terminate()
    proc.wait(timeout=30)


def test_a_foreign_host_or_origin_gets_403_on_loopback(loopback):
    url, port = loopback
    assert httpx.get(f"{url}/config", headers={"Host": f"evil.example:{port}"}).status_code == 403
    assert httpx.get(f"{url}/config", headers={"Host": "evil.example"}).status_code == 403
    assert httpx.get(f"{url}/config", headers={"Origin": "http://evil.example"}).status_code == 403
    assert httpx.post(f"{url}/login", data={"username": "me", "password": "right-pass"},
                      headers={"Host": f"evil.example:{port}"}).status_code == 403
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"studio.lan:{port}"):  # --allow-host adds a name
        assert httpx.get(f"{url}/config", headers={"Host": host}).status_code == 401  # reached the app's login


def test_ten_wrong_passwords_a_minute_then_429(loopback):
    url, _ = loopback
    codes = [httpx.post(f"{url}/login", data={"username": "me", "password": f"guess{i}"}).status_code
             for i in range(12)]
    assert codes[:10] == [400] * 10 and codes[10:] == [429, 429]
    right = httpx.post(f"{url}/login", data={"username": "me", "password": "right-pass"})
    assert right.status_code == 429  # even the right one waits: guessing must not learn anything


def test_each_instance_has_its_own_gradio_cache(loopback):
    _, port = loopback
    assert (REPO / ".studio" / f"gradio-trainer-{port}").is_dir()


def test_jobs_get_no_password_in_argv_or_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ACESTEP_STUDIO_AUTH", "studio:secret-word")
    store = JobStore(tmp_path / "jobs", launcher=[sys.executable, str(Path(__file__).with_name("fake_job.py"))])
    job = store.submit("download", ["sleep", "3"], tmp_path / "out", gpus=[])
    time.sleep(0.5)
    proc = Path(f"/proc/{job.pid}")
    assert b"secret-word" not in (proc / "cmdline").read_bytes()
    assert b"secret-word" not in (proc / "environ").read_bytes()
    store.stop(job.id)


def test_a_wildcard_bind_links_to_a_browsable_address(tmp_path):
    settings = make_settings("0.0.0.0", 7861, False, "a:b", [str(tmp_path)], False)
    assert settings.url == "http://127.0.0.1:7861"
    peer = Peer("captioner", 7862, tmp_path)
    assert peer_url(peer, "0.0.0.0:7861", "http") == "http://127.0.0.1:7862"
    assert peer_url(peer, "studio.lan:7861", "http") == "http://studio.lan:7862"


@pytest.mark.parametrize("value, name", [("evil.example:7861", "evil.example"), ("[::1]:7861", "[::1]"),
                                         ("http://localhost:7861", "localhost"), ("LOCALHOST", "localhost")])
def test_hostname(value, name):
    assert hostname(value) == name
