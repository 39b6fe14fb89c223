"""The trainer app through its API (gradio_client), on the demo model: the whole workflow, a job that
outlives the UI process and is reattached, stop with a resumable checkpoint, profiles, dataset edits."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
import soundfile
from audio_fixtures import tone
from gradio_client import Client
from test_launch import free_port, start, wait_status
from train_data import make_tensors

TIMEOUT = 600  # a loaded 2-core machine runs the tiny model slowly


class Studio:
    """A launched trainer on the demo model that a test may restart (a new UI process, same folders)."""

    def __init__(self, base):
        self.base, self.proc = base, None
        self.songs, self.runs = base / "datasets" / "songs", base / "runs"
        self.launch()

    def launch(self) -> None:
        port = free_port()
        self.proc, _ = start(["--port", str(port), "--demo", "--checkpoint-dir", str(self.base / "ck"),
                              "--root", str(self.base / "datasets"), "--root", str(self.runs),
                              "--state-dir", str(self.base / "studio-state")],
                             "ACE-Step Studio trainer: ", timeout=300)
        self.client = Client(f"http://127.0.0.1:{port}", verbose=False)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def restart(self) -> None:
        self.close()
        self.launch()

    def train(self, output: str, epochs: int, tensors: str = "tensors", **extra) -> str:
        return self.client.predict(model="tiny-turbo", preset="quick_test", adapter="lora",
                                   tensors=str(self.runs / tensors), output=str(self.runs / output), epochs=epochs,
                                   rank=4, lr=0.003, batch=1, crop=30, trigger="zzq", api_name="/start_training",
                                   **extra)[0]  # (message, run picker)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    base = tmp_path_factory.mktemp("studio")
    songs = base / "datasets" / "songs"
    songs.mkdir(parents=True)
    for index, seconds in enumerate((10.4, 11.2)):  # trainable: ACE-Step 1.5's shortest song is 10 s
        soundfile.write(songs / f"song{index}.wav", tone(seconds, freq=200 + 90 * index), 48000)
        (songs / f"song{index}.json").write_text(json.dumps({"caption": f"demo song {index}", "bpm": 100}))
    (songs / "broken.wav").write_bytes(b"RIFF not really audio")
    studio = Studio(base)
    yield studio
    studio.close()


@pytest.fixture(scope="module")
def own_tensors(studio) -> str:
    """Tensors of this module's demo model, made by the real preprocessing, for tests that do not
    depend on the workflow test (any order): the folder's name under the studio's runs root."""
    make_tensors(studio.runs / "own", studio.base / "ck", "turbo")
    return "own/tensors"


def test_scan_preprocess_train_export(studio):
    client = studio.client
    rows, _, summary = client.predict(str(studio.songs), "caption", api_name="/scan")
    assert "3 files: 2 usable, 1 unusable" in summary
    assert any(row[0] == "broken.wav" and "unreadable (" in row[3] for row in rows["data"])  # it says why
    client.predict(model="tiny-turbo", source=str(studio.songs), output=str(studio.runs / "tensors"), tag="zzq",
                   api_name="/start_preprocess")
    status = wait_status(client, "preprocess", ": finished", TIMEOUT)
    # One song is broken: the job finished with it skipped (never "complete", never "failed"), says which and why.
    assert ": finished, 1 skipped\nSummary: 2 done" in status
    assert "skipped broken.wav: unreadable" in status
    assert "Started train job" in studio.train("run", 2, preview_every=2)
    status = wait_status(client, "train", ": finished", TIMEOUT)
    assert "adapter: " in status and "/final" in status
    monitor = client.predict(api_name="/train_status")  # picker, status, log, loss, memory, three previews
    preview = monitor[5]["value"] if isinstance(monitor[5], dict) else monitor[5]
    assert preview and str(preview).endswith(".wav")  # the latest preview reaches the player
    assert (studio.runs / "run" / "final" / "adapter_model.safetensors").is_file()
    message = client.predict(checkpoint=str(studio.runs / "run" / "final"), formats=["diffusers", "comfyui"],
                             output=str(studio.runs / "export"), trigger="zzq", api_name="/export")
    assert message.count("read back and verified") == 2
    assert any((studio.runs / "export" / "diffusers").iterdir())
    jobs = Client(client.src, verbose=False).predict(api_name="/jobs")  # a new page: the jobs are still there
    # (other tests of this module may have run jobs first: random order)
    assert {("preprocess", "finished"), ("train", "finished")} <= {(row[1], row[2]) for row in jobs["data"]}


def test_reattach_after_a_ui_restart_then_stop_leaves_a_resumable_checkpoint(studio, own_tensors):
    studio.train("long", 500, tensors=own_tensors)
    events = studio.runs / "long" / "events.jsonl"
    deadline = time.monotonic() + TIMEOUT
    while not events.is_file() or '"step"' not in events.read_text():
        assert time.monotonic() < deadline, "training never reached a step"
        time.sleep(0.5)
    studio.restart()  # the UI process dies; the job does not
    status = studio.client.predict("train", api_name="/job_status")
    assert ": running" in status and "step " in status
    result = studio.client.predict(api_name="/train_status")
    assert result[1].startswith("train ") and "loss" in json.dumps(result[3])  # the plot is back, with its data
    studio.client.predict(api_name="/stop_training")
    assert ": stopped" in wait_status(studio.client, "train", ": stopped", TIMEOUT)  # graceful, not a failure
    saved = max((studio.runs / "long" / "checkpoints").iterdir(), key=lambda p: int(p.name))
    assert (saved / "trainer_state.pt").is_file()
    found = studio.client.predict(str(studio.runs / "long"), api_name="/find_checkpoints")
    assert str(saved) in json.dumps(found)
    studio.train("resumed", 1, tensors=own_tensors, resume=str(saved))
    assert ": finished" in wait_status(studio.client, "train", ": finished", TIMEOUT)
    assert '"resumed"' in (studio.runs / "resumed" / "events.jsonl").read_text()


def test_the_export_tab_says_how_to_play_the_adapter_back_and_every_export_records_it(studio, own_tensors):
    from acestep_train.export.writers import METADATA_KEY
    from acestep_train.models.safetensors_file import read_metadata

    studio.train("playback", 1, tensors=own_tensors, advanced='{"previews": {"steps": 2}}')  # previews at 2 steps
    assert ": finished" in wait_status(studio.client, "train", ": finished", TIMEOUT)
    final, said = studio.runs / "playback" / "final", "Play back with: turbo, 2 steps, shift 3, guidance 1"
    assert studio.client.predict(str(final), api_name="/export_playback") == said  # under the checkpoint picker
    message = studio.client.predict(checkpoint=str(final), formats=["acestep", "comfyui", "diffusers"],
                                    output=str(studio.runs / "playback-export"), api_name="/export")
    assert f"{said} (recorded in each export)" in message
    for fmt in ("acestep", "comfyui", "diffusers"):
        header = json.loads(read_metadata(studio.runs / "playback-export" / fmt / "adapter_model.safetensors")
                            [METADATA_KEY])
        assert header["inference"] == {"variant": "turbo", "steps": 2, "shift": 3.0, "guidance_scale": 1.0}


def test_settings_are_checked_before_a_job_starts(studio):
    client = studio.client
    with pytest.raises(Exception, match="not valid JSON"):
        studio.train("bad", 1, advanced="{nope")
    with pytest.raises(Exception, match=r"unknown setting 'optim.wieght_decay'"):
        studio.train("bad", 1, advanced='{"optim": {"wieght_decay": 0}}')
    with pytest.raises(Exception, match="run Preprocess first"):
        client.predict(model="tiny-turbo", tensors=str(studio.runs / "empty"), output=str(studio.runs / "x"),
                       api_name="/start_training")
    resolved = client.predict(model="tiny-turbo", preset="quick_test", adapter="lokr", linear_dim=4,
                              tensors=str(studio.runs / "t"), output=str(studio.runs / "o"),
                              advanced='{"optim": {"weight_decay": 0.05}}', api_name="/resolved_settings")
    assert resolved["adapter"]["type"] == "lokr" and resolved["adapter"]["linear_dim"] == 4
    assert resolved["optim"]["weight_decay"] == 0.05 and resolved["data"]["max_latent_length"] == 500  # preset


def test_session_profile_round_trip(studio):
    client = studio.client
    profile = str(studio.runs / "me.json")
    note = client.predict(profile_path=profile, train__adapter="lokr", train__epochs=3, train__preset="12gb",
                          preprocess__max_duration=120, dataset__tag="zzq", api_name="/save_profile")
    assert note.startswith("Saved")
    settings = json.loads((studio.runs / "me.json").read_text())["settings"]
    assert settings["train.adapter"] == "lokr" and settings["train.epochs"] == 3
    assert settings["preprocess.max_duration"] == 120 and settings["dataset.tag"] == "zzq"
    loaded = client.predict(profile, api_name="/load_profile")
    assert loaded[-1].startswith("Loaded") and "lokr" in loaded and "12gb" in loaded
    (studio.runs / "typo.json").write_text(json.dumps({"version": 1, "settings": {"train.epoch": 3}}))
    with pytest.raises(Exception, match="unknown settings"):
        client.predict(str(studio.runs / "typo.json"), api_name="/load_profile")


def test_bulk_edit_and_csv_import(studio):
    client, songs = studio.client, studio.songs
    note, table, _, summary = client.predict(folder=str(songs), field="genre", value="ambient", api_name="/bulk_edit")
    assert "genre set on 2 songs. Left out, not usable audio: broken.wav" in note  # never a sidecar for it
    assert not (songs / "broken.json").exists() and summary.startswith("3 files: 2 usable")
    (songs / "extra.csv").write_text("filename,caption,genre,bpm,keyscale,timesignature,lyrics,language\n"
                                     "song0.wav,replaced?,jazz,120,D minor,3,,fr\n")
    assert "1 sidecars filled" in client.predict(folder=str(songs), source=str(songs / "extra.csv"),
                                                 api_name="/import_captions")[0]
    sidecar = json.loads((songs / "song0.json").read_text())
    assert sidecar["caption"] == "demo song 0" and sidecar["genre"] == "ambient"  # the user's values stay
    assert sidecar["keyscale"] == "D minor" and sidecar["language"] == "fr"
    opened = client.predict(str(songs), "song0.wav", "caption", api_name="/open_sample")
    assert opened[1] == "demo song 0" and opened[0]  # the player gets the file (it lies in a root)
    saved, table, _, _ = client.predict(folder=str(songs), song="song0.wav", caption="my words", genre="ambient",
                                        api_name="/save_sample")
    assert {row[0]: row[2] for row in table["data"]}["song0.wav"] == "my words"  # the table shows it at once
    assert "caption" in saved and json.loads((songs / "song0.json").read_text())["caption"] == "my words"


def test_autolabel_job_fills_bpm_and_key_and_keeps_edits(studio):
    client, songs = studio.client, studio.songs
    secret = "sk-autolabel-never-written-8d1e"
    before = set(Path(tempfile.gettempdir()).glob("captioner-keys-*.json"))
    client.predict(folder=str(songs), backends=["librosa"], gemini_key=secret, api_name="/autolabel")
    assert ": finished" in wait_status(client, "autolabel", ": finished", TIMEOUT)
    sidecar = json.loads((songs / "song1.json").read_text())
    assert sidecar["keyscale"] and sidecar["caption"] == "demo song 1"
    # a key typed in the tab reached the job through a private file the job deleted; nothing written holds it
    assert set(Path(tempfile.gettempdir()).glob("captioner-keys-*.json")) == before
    written = [p for p in studio.base.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".log", ".txt")]
    assert written and not [p for p in written if secret in p.read_text(errors="ignore")]


def test_a_job_error_is_readable(studio):
    with pytest.raises(Exception, match="No such job: 'nope'"):
        studio.client.predict("nope", api_name="/stop_job")
    with pytest.raises(Exception, match="No such job"):
        studio.client.predict("../../../etc", api_name="/job_log")
