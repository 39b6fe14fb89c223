"""The trainer app through its API (gradio_client), on the demo model: the whole workflow, jobs that
outlive the page, stop with a resumable checkpoint, and paths outside the roots refused."""

from __future__ import annotations

import json
import time

import pytest
import soundfile
from gradio_client import Client

from audio_fixtures import tone
from test_launch import free_port, start

TIMEOUT = 240


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("studio")
    songs = base / "datasets" / "songs"
    songs.mkdir(parents=True)
    for index, seconds in enumerate((1.6, 2.4)):
        soundfile.write(songs / f"song{index}.wav", tone(seconds, freq=200 + 90 * index), 48000)
        (songs / f"song{index}.json").write_text(json.dumps({"caption": f"demo song {index}", "bpm": 100}))
    port = free_port()
    proc, _ = start(["--port", str(port), "--demo", "--checkpoint-dir", str(base / "ck"),
                     "--root", str(base / "datasets"), "--root", str(base / "runs")], "ACE-Step Studio trainer: ")
    yield Client(f"http://127.0.0.1:{port}", verbose=False), base
    proc.terminate()
    proc.wait(timeout=30)


def wait_for(client, endpoint: str, done: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        result = client.predict(api_name=endpoint)
        status = result[-1] if isinstance(result, (list, tuple)) else result
        if done in status or ": failed" in status:
            return status
        time.sleep(1.0)
    raise AssertionError(f"{endpoint} never reached {done!r}: {status}")


def training(client, base, output: str, epochs: int, resume: str = "") -> str:
    return client.predict("tiny-turbo", "quick_test", "lora", str(base / "runs" / "tensors"), str(base / "runs" / output),
                          resume, "", False, epochs, 4, 0.003, 1, 30, "zzq", 0, api_name="/start_training")


def test_scan_preprocess_train_export(app):
    client, base = app
    rows, _, summary = client.predict(str(base / "datasets" / "songs"), "caption", api_name="/scan")
    assert "2 files: 2 usable" in summary
    client.predict("tiny-turbo", str(base / "datasets" / "songs"), str(base / "runs" / "tensors"), 240, "peak", False,
                   "zzq", api_name="/start_preprocess")
    assert ": finished" in wait_for(client, "/preprocess_status", ": finished")
    assert "submitted" not in training(client, base, "run", 2)
    assert ": finished" in wait_for(client, "/train_status", ": finished")
    assert (base / "runs" / "run" / "final" / "adapter_model.safetensors").is_file()
    message = client.predict(str(base / "runs" / "run" / "final"), "diffusers", str(base / "runs" / "export"), "zzq",
                             api_name="/export")
    assert "read back and verified" in message
    jobs = Client(client.src, verbose=False).predict(api_name="/jobs")  # a new page: the jobs are still there
    kinds = {row[1]: row[2] for row in jobs["data"]}
    assert kinds == {"preprocess": "finished", "train": "finished"}


def test_stop_mid_run_leaves_a_resumable_checkpoint(app):
    client, base = app
    if not (base / "runs" / "tensors" / "manifest.json").is_file():
        pytest.skip("needs the tensors of the workflow test")
    training(client, base, "long", 500)
    deadline = time.monotonic() + TIMEOUT
    while not (base / "runs" / "long" / "events.jsonl").is_file() or '"step"' not in (
            base / "runs" / "long" / "events.jsonl").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.5)
    client.predict(api_name="/stop_training")
    assert ": stopped" in wait_for(client, "/train_status", ": stopped")  # a graceful stop, not a failure
    saved = sorted((base / "runs" / "long" / "checkpoints").iterdir(), key=lambda p: int(p.name))[-1]
    assert (saved / "trainer_state.pt").is_file()
    training(client, base, "resumed", 1, resume=str(saved))
    assert ": finished" in wait_for(client, "/train_status", ": finished")


def test_exposed_app_refuses_paths_outside_its_roots(tmp_path):
    port = free_port()
    proc, lines = start(["--port", str(port), "--host", "0.0.0.0", "--auth", "me:secret-pass", "--checkpoint-dir",
                         str(tmp_path / "ck"), "--root", str(tmp_path / "data")], "ACE-Step Studio trainer: ")
    try:
        client = Client(f"http://127.0.0.1:{port}", auth=("me", "secret-pass"), verbose=False)
        with pytest.raises(Exception, match="outside the folders this studio serves"):
            client.predict("/etc", "caption", api_name="/scan")
        with pytest.raises(Exception, match="outside the folders this studio serves"):
            client.predict("../../etc", "caption", api_name="/scan")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_settings_profile_round_trip(app):
    client, base = app
    profile = str(base / "runs" / "me.json")
    values = ["tiny-turbo", "12gb", "lokr", str(base / "runs" / "t"), str(base / "runs" / "o"), '{"seed": 7}',
              3, 8, 0.001, 2, 40, "zzq", 5]
    assert "saved the settings" in client.predict(profile, *values, api_name="/save_profile")
    loaded = client.predict(profile, api_name="/load_profile")
    assert list(loaded[:6]) == values[:6] and loaded[-1].startswith("loaded")
    assert json.loads((base / "runs" / "me.json").read_text())["preset"] == "12gb"


def test_bulk_edit_and_csv_import(app):
    client, base = app
    songs = base / "datasets" / "songs"
    assert "genre set on 2 songs" in client.predict(str(songs), "caption", "genre", "ambient", False,
                                                    api_name="/bulk_edit")
    (songs / "extra.csv").write_text("filename,caption,genre,bpm,keyscale,timesignature,lyrics,language\n"
                                     "song0.wav,replaced?,jazz,120,D minor,3,,fr\n")
    assert "1 sidecars filled" in client.predict(str(songs), "caption", str(songs / "extra.csv"), False,
                                                 api_name="/import_captions")
    sidecar = json.loads((songs / "song0.json").read_text())
    assert sidecar["caption"] == "demo song 0" and sidecar["genre"] == "ambient"  # the user's values stay
    assert sidecar["keyscale"] == "D minor" and sidecar["language"] == "fr"


def test_autolabel_job_fills_bpm_and_key(app):
    client, base = app
    songs = base / "datasets" / "songs"
    client.predict(str(songs), ["librosa"], True, False, "", api_name="/autolabel")
    assert ": finished" in wait_for(client, "/autolabel_status", ": finished")
    sidecar = json.loads((songs / "song1.json").read_text())
    assert sidecar["keyscale"] and sidecar["caption"] == "demo song 1"


def test_stopping_an_unknown_job_is_a_readable_error(app):
    client, _ = app
    with pytest.raises(Exception, match="No such job: 'nope'"):
        client.predict("nope", api_name="/stop_job")
