"""Captioner: robust parsing of model text, cloud backends against a local server of their API shape,
batches that write sidecars as they go and resume after a crash."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import soundfile

from captioner.__main__ import main as captioner_main
from captioner.backend import Backend, load_audio
from captioner.batch import BatchOptions, caption_folder
from captioner.cloud import CloudError, ElevenLabsScribe, Gemini, OpenAIWhisper
from captioner.parse import parse_output
from audio_fixtures import click_track, tone

KEY = "sk-test-secret-123"


@pytest.mark.parametrize(("text", "expected"), [
    ('```json\n{"caption": "dreamy synth-pop", "genre": "pop", "bpm": "118", "key": "F# min", '
     '"time_signature": "4/4", "language": "English"}\n```',
     {"caption": "dreamy synth-pop", "genre": "pop", "bpm": 118, "keyscale": "F# minor", "timesignature": "4",
      "language": "en"}),
    ("**Caption:** warm lo-fi beat with vinyl crackle\n**Genre**: lo-fi hip hop\n- BPM: around 84 BPM\n"
     "- Key: Bb major\n- Time signature: 3/4",
     {"caption": "warm lo-fi beat with vinyl crackle", "genre": "lo-fi hip hop", "bpm": 84, "keyscale": "Bb major",
      "timesignature": "3"}),
    ('Sure! Here is the analysis: {"caption": "orchestral", "bpm": 9000, "key": "unknown"} Hope it helps',
     {"caption": "orchestral"}),
    ('{"caption": "broken json", "bpm": 100', {}),
    ("language: ja\nlyrics:\n[Verse]\nline one\n[Chorus]\nline two",
     {"language": "ja", "lyrics": "[Verse]\nline one\n[Chorus]\nline two"}),
    ("Key: a minor\nInstrumental: yes", {"keyscale": "A minor", "is_instrumental": True}),
])
def test_parse_realistic_outputs(text, expected):
    assert parse_output(text) == expected


class FakeCloud:
    """Speaks the request shapes of OpenAI transcriptions, ElevenLabs speech-to-text and Gemini."""

    def __init__(self):
        self.requests, self.rate_limit_once = [], True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append((self.path, dict(self.headers), body))
                status, answer = server.answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path, headers, body):
        if path == "/v1/audio/transcriptions":
            if headers.get("Authorization") != f"Bearer {KEY}":
                return 401, {"error": "bad key"}
            assert b"RIFF" in body and b'name="model"' in body
            return 200, {"text": "hello world", "language": "english"}
        if path == "/v1/speech-to-text":
            if self.rate_limit_once:
                self.rate_limit_once = False
                return 429, {"detail": "slow down"}
            assert headers.get("xi-api-key") == KEY and b"scribe_v1" in body
            return 200, {"text": "la la la", "language_code": "fr"}
        if path.endswith(":generateContent"):
            assert headers.get("x-goog-api-key") == KEY
            request = json.loads(body)
            audio = base64.b64decode(request["contents"][0]["parts"][1]["inline_data"]["data"])
            assert audio[:4] == b"RIFF"
            text = '```json\n{"caption": "bright indie rock", "genre": "indie", "bpm": 132, "key": "E minor"}\n```'
            return 200, {"candidates": [{"content": {"parts": [{"text": text}]}}]}
        return 404, {}

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def cloud():
    server = FakeCloud()
    yield server
    server.close()


@pytest.fixture
def clip(tmp_path):
    soundfile.write(tmp_path / "song.wav", tone(1.0), 48000)
    return load_audio(tmp_path / "song.wav")


def test_cloud_backends_speak_their_apis(cloud, clip):
    assert OpenAIWhisper(KEY, cloud.url).caption(clip) == {"lyrics": "hello world", "language": "en"}
    assert ElevenLabsScribe(KEY, cloud.url, max_wait=0).caption(clip) == {"lyrics": "la la la", "language": "fr"}
    assert [r[0] for r in cloud.requests].count("/v1/speech-to-text") == 2  # a 429, then the retry
    assert Gemini(KEY, cloud.url).caption(clip) == {"caption": "bright indie rock", "genre": "indie", "bpm": 132,
                                                    "keyscale": "E minor"}


def test_rejected_key_is_clear_and_never_leaks(cloud, clip, monkeypatch):
    with pytest.raises(CloudError, match="openai-whisper: the API key was rejected") as error:
        OpenAIWhisper("wrong-key", cloud.url).caption(clip)
    assert "wrong-key" not in str(error.value) and KEY not in repr(OpenAIWhisper(KEY, cloud.url))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(CloudError, match="no API key \\(set GEMINI_API_KEY"):
        Gemini()


class Exploding(Backend):
    name, provides, essential = "exploding", ("caption",), ("caption",)

    def __init__(self, after: int):
        self.left = after

    def caption(self, audio):
        if self.left == 0:
            raise KeyboardInterrupt  # the process dies mid-batch
        self.left -= 1
        return {"caption": f"caption of {audio.path.stem}"}


def test_batch_writes_as_it_goes_keeps_edits_and_resumes_after_a_crash(tmp_path, cloud):
    for name in ("a", "b", "c"):
        soundfile.write(tmp_path / f"{name}.wav", click_track(120, seconds=4, rate=48000), 48000)
    (tmp_path / "b.json").write_text(json.dumps({"caption": "my own words", "edited": ["caption"]}))
    with pytest.raises(KeyboardInterrupt):
        caption_folder(tmp_path, [Exploding(after=1)])
    assert json.loads((tmp_path / "a.json").read_text())["caption"] == "caption of a"  # kept despite the crash
    assert not (tmp_path / "c.json").exists()
    summary = caption_folder(tmp_path, [Gemini(KEY, cloud.url)], BatchOptions(only_missing=True, tag="zzq",
                                                                              csv_out=tmp_path / "all.csv"))
    assert summary.skipped == ["a.wav", "b.wav"] and summary.done == ["c.wav"]  # a and b already have captions
    b, c = json.loads((tmp_path / "b.json").read_text()), json.loads((tmp_path / "c.json").read_text())
    assert b["caption"] == "my own words"  # the user's caption survives
    assert c["caption"] == "bright indie rock" and c["custom_tag"] == "zzq"
    assert "bright indie rock" in (tmp_path / "all.csv").read_text()
    again = caption_folder(tmp_path, [Gemini(KEY, cloud.url)], BatchOptions(only_missing=False))
    assert len(again.done) == 3  # asked to redo: b's edited caption is still protected
    assert json.loads((tmp_path / "b.json").read_text())["caption"] == "my own words"
    assert json.loads((tmp_path / "b.json").read_text())["bpm"] == 132


def test_cli_with_librosa(tmp_path, capsys):
    soundfile.write(tmp_path / "click.wav", click_track(100, seconds=8, rate=44100), 44100)
    (tmp_path / "bad.wav").write_text("not audio")
    assert captioner_main(["--audio-dir", str(tmp_path), "--backend", "librosa"]) == 0
    assert json.loads((tmp_path / "click.json").read_text())["bpm"] == 100
    assert "captioned 1" in capsys.readouterr().out
    assert captioner_main(["--audio-dir", str(tmp_path), "--backend", "nope"]) == 2
