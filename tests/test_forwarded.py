"""Password guessing through loopback, as from an SSH tunnel or a local proxy: a fresh X-Forwarded-For
(or Forwarded) header on every try must not reset the login limit, and once blocked no header lets the
right password in. Forwarded headers count only from a proxy named with ``--trusted-proxy``."""

from __future__ import annotations

import httpx
import pytest
from test_launch import free_port, start

from app.settings import make_settings


def launch(base, extra: list[str]):
    port = free_port()
    proc, _ = start(["--port", str(port), "--auth", "me:right-pass", "--checkpoint-dir", str(base / "ck"),
                     "--root", str(base / "data"), *extra], "ACE-Step Studio trainer: ")
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
def studio(tmp_path):
    proc, url = launch(tmp_path, [])
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def behind_proxy(tmp_path):
    proc, url = launch(tmp_path, ["--trusted-proxy", "127.0.0.1"])
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def login(url: str, password: str, headers: dict | None = None) -> int:
    return httpx.post(f"{url}/login", data={"username": "me", "password": password}, headers=headers).status_code


def test_a_new_forwarded_address_per_guess_still_reaches_429(studio):
    codes = [login(studio, f"guess{i}", {"X-Forwarded-For": f"203.0.113.{i}", "Forwarded": f"for=198.51.100.{i}"})
             for i in range(12)]
    assert codes[:10] == [400] * 10 and codes[10:] == [429, 429]
    for headers in ({"X-Forwarded-For": "203.0.113.200"}, {"Forwarded": "for=198.51.100.200"}, None):
        assert login(studio, "right-pass", headers) == 429  # no header makes a blocked peer someone else


def test_a_trusted_proxy_keys_the_limit_by_the_forwarded_address(behind_proxy):
    blocked, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    codes = [login(behind_proxy, f"guess{i}", blocked) for i in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429
    assert login(behind_proxy, "right-pass", blocked) == 429
    assert login(behind_proxy, "right-pass", other) == 200  # another client behind the same proxy


def test_trusted_proxies_are_validated_once(tmp_path):
    settings = make_settings("127.0.0.1", 7861, False, None, [str(tmp_path)], False, ["127.0.0.1", "10.0.0.0/8"])
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    for bad in ("*", "proxy.lan", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="--trusted-proxy"):
            make_settings("127.0.0.1", 7861, False, None, [str(tmp_path)], False, [bad])
