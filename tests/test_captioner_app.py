"""The captioner app: a folder analyzed as a job, then one song reviewed and saved; its model download,
API-key fields, advanced prompts and clear messages."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
import soundfile
from gradio_client import Client

from app.dataset_ops import FIELDS, TABLE, TABLE_HEADERS
from audio_fixtures import click_track
from captioner.batch import BatchOptions, caption_folder
from captioner.librosa_backend import LibrosaAnalysis
from test_captioner import Fake
from test_launch import free_port, start

SECRET = "sk-test-never-written-4f9c2"


def wait_for(client: Client, api_name: str, seconds: float = 300, job: str = "") -> str:
    """The status once it shows ``job`` (any job when empty) finished or failed: another test's job
    of the same kind may be on show until this one's first poll."""
    deadline, status = time.monotonic() + seconds, ""
    while not (status.startswith(job) and (": finished" in status or ": failed" in status)):
        assert time.monotonic() < deadline, status
        time.sleep(1)
        answer = client.predict(api_name=api_name)
        status = answer[0] if isinstance(answer, (list, tuple)) else answer  # caption_status: (status, bar)
    return status


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("captioner_app")
    offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the download job fails at once, naming the repo
    songs = tmp_path / "data" / "songs"
    songs.mkdir(parents=True)
    soundfile.write(songs / "beat.wav", click_track(90, seconds=12, rate=48000), 48000)
    (songs / "notes.mp3").write_text("these are my lyrics, not audio\n")
    port = free_port()
    proc, _ = start(["--mode", "caption", "--port", str(port), "--checkpoint-dir", str(tmp_path / "ck"),
                     "--root", str(tmp_path / "data"), "--root", str(tmp_path / "runs")],
                    "ACE-Step Studio captioner: ")
    try:
        yield Client(f"http://127.0.0.1:{port}", verbose=False), songs, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if offline is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = offline


def test_analyze_then_review(captioner):
    client, songs, root = captioner
    before = set(Path(tempfile.gettempdir()).glob("captioner-keys-*.json"))
    started = client.predict(folder=str(songs), mode="Analyze only", backends=[], only_missing=True,
                             two_pass=False, tag="", quantize="none", gemini_key=SECRET, api_name="/caption")
    assert "submitted" not in started
    job = re.search(r"(?:Started|Queued) caption job ([A-Za-z0-9_-]+)", started).group(1)
    assert wait_for(client, "/caption_status", job=f"caption {job}").startswith(f"caption {job}: finished")
    bar = client.predict(api_name="/caption_status")[1]  # the progress bar beside the status
    assert "role='progressbar'" in bar and "aria-valuenow='100'" in bar and "finished" in bar
    sidecar = json.loads((songs / "beat.json").read_text())
    assert sidecar["bpm"] == 90 and sidecar["timesignature"] in ("3", "4")
    # the key reached the job through a private file it deleted; nothing the studio wrote holds it
    assert set(Path(tempfile.gettempdir()).glob("captioner-keys-*.json")) == before
    written = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".log", ".txt", "")]
    assert written and not [p for p in written if SECRET in p.read_text(errors="ignore")]
    table, _, summary = client.predict(str(songs), api_name="/review_scan")
    assert table.get("headers") == TABLE_HEADERS and len(TABLE_HEADERS) == len(TABLE), table  # not 1 2 3 4
    assert {"BPM", "Key", "Time signature"} <= set(table["headers"])  # words, not the sidecar's keys
    notes = next(row for row in table["data"] if row[0] == "notes.mp3")
    assert "not an audio file" in notes[3] and "pipe" not in notes[3]
    client.predict(str(songs), "beat.wav", "slow drum machine", "", "90", "", "", "en", False, "",
                   api_name="/save_review")
    assert json.loads((songs / "beat.json").read_text())["caption"] == "slow drum machine"


def test_review_save_marks_only_the_changed_fields(captioner):
    """Open, change two fields, Save: only those two become the user's; the empty lyrics stay free, so a
    later transcription fills them (issue 23: one Save used to claim all 8 fields, empty ones included)."""
    client, shared, _ = captioner
    songs = shared.parent / "review-songs"  # its own folder: the shared one's beat.wav stays unanalysed for the others
    songs.mkdir()
    soundfile.write(songs / "second.wav", click_track(120, seconds=8, rate=44100), 44100)
    caption_folder(songs, [LibrosaAnalysis()], BatchOptions(only_missing=True))  # the studio's analysis
    opened = client.predict(str(songs), "second.wav", api_name="/review_open")
    shown = dict(zip(FIELDS, opened[1:]))
    assert shown["bpm"] == "120" and shown["lyrics"] == ""  # as the Textbox shows it
    saved = client.predict(str(songs), "second.wav", *{**shown, "caption": "dusty drum loop",
                                                        "genre": "trip hop"}.values(), api_name="/save_review")
    assert saved == "Saved second.json (caption, genre)."
    origins = json.loads((songs / "second.json").read_text())["_provenance"]
    assert {name: origin["source"] for name, origin in origins.items()} == {
        "caption": "user", "genre": "user", "bpm": "analysis", "keyscale": "analysis", "timesignature": "analysis"}
    transcriber = Fake("acestep-transcriber", {"lyrics": "[Verse 1]\nfound later", "language": "de"}, lyrics=True)
    summary = caption_folder(songs, [transcriber], BatchOptions(only_missing=True))
    assert "second.wav" in summary.done
    found = json.loads((songs / "second.json").read_text())
    assert (found["lyrics"], found["language"], found["caption"]) == ("[Verse 1]\nfound later", "de",
                                                                       "dusty drum loop")
    # the page keeps what Open showed: a job that rewrites the lyrics while the song is open is not undone by Save
    shown = dict(zip(FIELDS, client.predict(str(songs), "second.wav", api_name="/review_open")[1:]))
    rerun = Fake("acestep-transcriber", {"lyrics": "[Verse 1]\nsecond take"}, lyrics=True)
    caption_folder(songs, [rerun], BatchOptions(only_missing=False))
    saved = client.predict(str(songs), "second.wav", *{**shown, "caption": "dusty loop"}.values(),
                           api_name="/save_review")
    assert saved == "Saved second.json (caption)."
    found = json.loads((songs / "second.json").read_text())
    assert (found["caption"], found["lyrics"]) == ("dusty loop", "[Verse 1]\nsecond take")


def test_default_mode_without_weights_says_download_first(captioner):
    client, songs, root = captioner
    with pytest.raises(Exception, match="not downloaded yet.*Download models"):
        client.predict(folder=str(songs), mode="Caption all", backends=[], caption_prompt="*Task* Describe the drums",
                       api_name="/caption")
    answer = client.predict(acestep_captioner_dir=str(root / "ck" / "acestep-captioner"),
                            acestep_transcriber_dir=str(root / "ck" / "acestep-transcriber"),
                            api_name="/download_models")
    assert answer.startswith("download job")
    status = wait_for(client, "/download_status", 90)
    assert ": failed" in status and "could not download ACE-Step/acestep-captioner" in status


def test_an_outside_model_folder_gets_one_answer_whatever_it_holds(captioner, tmp_path):
    client, songs, _ = captioner
    answers = []
    for name, holds_model in (("with-model", True), ("empty", False)):
        folder = tmp_path / name
        folder.mkdir()
        if holds_model:
            (folder / "config.json").write_text("{}")
        with pytest.raises(Exception) as refused:
            client.predict(folder=str(songs), mode="Caption all", backends=[], acestep_captioner_dir=str(folder),
                           acestep_transcriber_dir=str(folder), api_name="/caption")
        answers.append(str(refused.value).replace(str(folder), "<folder>"))
    assert answers[0] == answers[1] and "outside the folders this studio serves" in answers[0]  # no oracle


def test_the_song_folders_follow_the_project_and_the_review_names_its_fields_in_words(tmp_path):
    """The Caption and Review tabs open on the project's songs/ (chosen in the trainer; one state folder), and
    the Review's editor says BPM, Key, Time signature, Instrumental, not bpm / keyscale / is_instrumental."""
    import gradio as gr

    from app.context import AppContext
    from app.project import Project, save_project
    from app.settings import make_settings
    from captioner.app import build_captioner_app

    settings = make_settings("127.0.0.1", 7862, False, None, [str(tmp_path / "ck"), str(tmp_path / "data")], False,
                             state_dir=str(tmp_path / "studio-state"))
    ctx = AppContext(settings, tmp_path / "ck", tmp_path / "data")
    demo = build_captioner_app(ctx)
    boxes = [b for b in demo.blocks.values() if isinstance(b, gr.Textbox) and b.label == "Song folder"]
    assert len(boxes) == 2 and [b.load_event_to_attach[0]() for b in boxes] == [str(tmp_path / "data")] * 2
    project = Project(tmp_path / "data" / "band")
    project.create()
    save_project(ctx.work_root, project)  # what the trainer's Project tab writes
    assert [b.load_event_to_attach[0]() for b in boxes] == [str(project.songs)] * 2  # a page loaded now
    labels = {b.label for b in demo.blocks.values() if isinstance(b, (gr.Textbox, gr.Checkbox))}
    assert {"BPM", "Key (e.g. E minor)", "Time signature (beats per bar)", "Instrumental", "Lyrics"} <= labels
    assert not labels & {"bpm", "keyscale", "timesignature", "is_instrumental"}
