"""Security of an exposed studio: share mode never runs without a login, Gradio's file route serves only
the roots, and a path outside the roots typed into any field is refused (nothing is read or written)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from test_launch import REPO, free_port, start

REFUSED = "outside the folders this studio serves"


def fake_frpc(home: Path) -> None:
    """Gradio's tunnel binary, stood in by a script that reports a link and never leaves this machine."""
    from gradio.tunneling import VERSION

    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()).lower()
    binary = home / "gradio" / "frpc" / f"frpc_{platform.system().lower()}_{machine}_v{VERSION}"
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!{sys.executable}\nimport os, time\n"
                      "print('start proxy success: https://share.invalid', flush=True)\n"
                      "parent = os.getppid()\nwhile os.getppid() == parent:\n    time.sleep(0.2)\n")
    binary.chmod(0o755)


def test_share_without_auth_gets_a_generated_login(tmp_path):
    fake_frpc(tmp_path / "hf")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "GRADIO_SHARE_SERVER_ADDRESS": "127.0.0.1:9"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "launch.py"), "--share", "--port", str(port),
                             "--checkpoint-dir", str(tmp_path / "ck"), "--root", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Login: "):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
        assert any(line.startswith("Share link: http") and "share.invalid" in line for line in lines)
        password = lines[-1].split("Login: studio / ")[1].split()[0]
        assert len(password) >= 12
        assert httpx.get(f"http://127.0.0.1:{port}/config").status_code == 401
        client = Client(f"http://127.0.0.1:{port}", auth=("studio", password), verbose=False)
        assert "Service" in str(client.config)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def exposed(tmp_path_factory):
    base = tmp_path_factory.mktemp("exposed")
    (base / "data" / "songs").mkdir(parents=True)
    (base / "data" / "songs" / "inside.txt").write_text("served")
    port = free_port()
    proc, _ = start(["--port", str(port), "--host", "0.0.0.0", "--auth", "me:secret-pass", "--checkpoint-dir",
                     str(base / "ck"), "--root", str(base / "data")], "ACE-Step Studio trainer: ")
    yield f"http://127.0.0.1:{port}", base
    proc.terminate()
    proc.wait(timeout=30)


def test_the_file_route_serves_only_the_roots(exposed):
    url, base = exposed
    with httpx.Client(base_url=url) as http:
        assert http.get(f"/gradio_api/file={base}/data/songs/inside.txt").status_code == 401  # no login yet
        assert http.post("/login", data={"username": "me", "password": "secret-pass"}).status_code == 200
        assert http.get(f"/gradio_api/file={base}/data/songs/inside.txt").text == "served"
        for outside in ("/etc/passwd", f"{base}/data/../../../etc/passwd", f"{base}/data/%2e%2e/%2e%2e/etc/passwd",
                        str(REPO / "launch.py")):
            response = http.get(f"/gradio_api/file={outside}")
            assert response.status_code in (403, 404) and "root:" not in response.text, outside


def test_paths_outside_the_roots_are_refused_in_every_field(exposed, tmp_path):
    url, base = exposed
    client = Client(url, auth=("me", "secret-pass"), verbose=False)
    outside = tmp_path / "not-served"
    calls = {
        "scan": dict(folder="/etc", txt_mode="caption"),
        "open_sample": dict(folder="/etc", song="passwd", txt_mode="caption"),
        "scan_models": dict(folders_text="/etc"),
        "start_preprocess": dict(model="turbo", source="/etc", output=str(base / "data" / "t")),
        "split": dict(folder=str(base / "data" / "songs"), target=str(outside), seconds=30),
        "save_dataset_json": dict(folder=str(base / "data" / "songs"), target=str(outside / "d.json")),
        "start_training": dict(model="turbo", tensors=str(base / "data"), output=str(outside)),
        "export": dict(checkpoint="/etc", formats=["acestep"], output=str(base / "data" / "e")),
        "start_compare": dict(run=str(base / "data"), checkpoints="best /etc", caption1="zzq",
                              output=str(base / "data" / "g")),
        "show_grid": dict(typed="/etc"),
        "autolabel": dict(folder="../../etc", backends=["librosa"]),
        "save_profile": dict(profile_path=str(outside / "p.json")),
        "open_project": dict(typed=str(outside / "project")),
        "load_profile": dict(path="/etc/passwd"),
    }
    for endpoint, kwargs in calls.items():
        args = list(kwargs.values()) if endpoint in ("scan", "open_sample", "scan_models", "split",
                                                     "load_profile") else []
        with pytest.raises(Exception, match=REFUSED):
            if args:
                client.predict(*args, api_name=f"/{endpoint}")
            else:
                client.predict(api_name=f"/{endpoint}", **kwargs)
    for field in ("clap", "reference"):  # the bench's CLAP folder and reference songs are held to the roots too
        with pytest.raises(Exception, match=REFUSED):
            client.predict(api_name="/start_compare", run=str(base / "data"), checkpoints="best", caption1="zzq",
                           output=str(base / "data" / "g"), **{field: "/etc"})
    assert not outside.exists()  # nothing was written there
    assert not list((base / "data").glob("jobs/*/job.json"))  # and no job was started
    with pytest.raises(Exception, match="No such job"):
        client.predict("../../../../etc", api_name="/job_log")


def test_the_page_before_login_describes_no_api(exposed):
    url, base = exposed
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and '"auth_required":true' in page.text  # the login form still loads
    assert "window.gradio_api_info = null;" in page.text
    for leak in ("named_endpoints", "resolved_settings", "parameter_default", str(base)):
        assert leak not in page.text, leak
    with httpx.Client(base_url=url) as http:
        assert http.post("/login", data={"username": "me", "password": "secret-pass"}).status_code == 200
        assert "resolved_settings" in http.get("/").text  # logged in: the page is whole


def test_resolved_settings_refuse_paths_outside_the_roots(exposed, tmp_path):
    url, base = exposed
    client = Client(url, auth=("me", "secret-pass"), verbose=False)
    estimate = tmp_path / "estimate.json"
    estimate.write_text(json.dumps({"targets": ["to_q"], "base_rank": 4, "rank_pattern": {}}))
    for field, value in (("from_estimate", estimate), ("resume_from", tmp_path)):  # every path field
        with pytest.raises(Exception, match=f"{field}: {value}: {REFUSED}"):  # the job's own words
            client.predict(api_name="/resolved_settings", model="turbo", tensors=str(base / "data" / "t"),
                           output=str(base / "data" / "run"), advanced=json.dumps({field: str(value)}))
