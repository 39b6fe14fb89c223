"""Cloud backends against a local server that speaks their API shapes (never the real endpoints):
request format, auth headers, error codes, rate-limit retries, and keys that never leak."""

from __future__ import annotations

import base64
import email
import io
import email.policy
import json
import logging
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import soundfile

from audio_fixtures import tone
from captioner.__main__ import main as captioner_main
from captioner.backend import LINES, load_audio
from captioner.cloud import ElevenLabsScribe, Gemini, OpenAIWhisper
from captioner.http_client import CloudError, RetryPolicy, retry_after
from captioner.job import write_keys_file
from captioner.lyrics import TimedLine

KEY = "sk-test-secret-123"
FAST = RetryPolicy(attempts=3, max_wait=0.0)
GEMINI_ANSWER = {"caption": "bright indie rock with jangly guitars", "genre": "indie", "bpm": 132, "key": "E minor",
                 "time_signature": "4/4", "language": "en", "is_instrumental": False,
                 "lyrics": "# Lyrics\n[Verse]\nhello\n[Chorus]\nagain"}


def gemini_body(text: str, finish: str = "STOP") -> dict:
    """A generateContent response holding ``text``; ``finish`` "MAX_TOKENS" when the output limit cut it."""
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": finish}]}


class FakeCloud:
    """OpenAI transcriptions, ElevenLabs speech-to-text and Gemini generateContent, on 127.0.0.1.

    ``script[path]``: answers (status, body, headers) to give before the normal one.
    """

    def __init__(self):
        self.requests, self.script = [], {}
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                cloud.requests.append((self.path, dict(self.headers), body))
                queued = cloud.script.get(self.path.split(":")[0].split("?")[0])
                status, answer, headers = queued.pop(0) if queued else cloud.answer(self.path, self.headers)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path, headers):
        if path == "/v1/audio/transcriptions":
            if headers.get("Authorization") != f"Bearer {KEY}":
                return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, {}
            return 200, {"text": "hello world la la", "language": "english", "duration": 2.0, "segments": [
                {"id": 0, "start": 0.0, "end": 1.0, "text": " hello world"},
                {"id": 1, "start": 1.2, "end": 2.0, "text": " la la"}]}, {}
        if path == "/v1/speech-to-text":
            if headers.get("xi-api-key") != KEY:
                return 401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, {}
            return 200, {"language_code": "fra", "language_probability": 0.98, "text": "la vie en rose", "words": [
                {"text": "la", "start": 0.1, "end": 0.3, "type": "word"},
                {"text": " ", "start": 0.3, "end": 0.4, "type": "spacing"},
                {"text": "vie", "start": 0.4, "end": 0.7, "type": "word"},
                {"text": "en", "start": 2.0, "end": 2.2, "type": "word"},
                {"text": " ", "start": 2.2, "end": 2.3, "type": "spacing"},
                {"text": "rose", "start": 2.3, "end": 2.8, "type": "word"}]}, {}
        if path.endswith(":generateContent"):
            if headers.get("x-goog-api-key") != KEY:
                return 400, {"error": {"code": 400, "message": f"API key not valid: {headers.get('x-goog-api-key')}",
                                       "status": "INVALID_ARGUMENT"}}, {}
            return 200, gemini_body("```json\n" + json.dumps(GEMINI_ANSWER) + "\n```"), {}
        return 404, {"error": "no such route"}, {}

    def form(self, index: int) -> dict:
        """The multipart form of request ``index``: {field name: bytes}."""
        _, headers, body = self.requests[index]
        message = email.message_from_bytes(f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body,
                                           policy=email.policy.HTTP)
        return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cloud():
    server = FakeCloud()
    yield server
    server.close()


@pytest.fixture
def clip(tmp_path):
    soundfile.write(tmp_path / "song.wav", tone(2.0), 48000)
    return load_audio(tmp_path / "song.wav")


def test_openai_whisper_request_and_timed_lines(cloud, clip):
    fields = OpenAIWhisper(KEY, cloud.url, FAST, language="en").caption(clip)
    assert fields == {"lyrics": "hello world\nla la", "language": "en",
                      LINES: [TimedLine(0.0, 1.0, "hello world"), TimedLine(1.2, 2.0, "la la")]}
    form = cloud.form(0)
    assert form["model"] == b"whisper-1" and form["response_format"] == b"verbose_json"
    assert form["timestamp_granularities[]"] == b"segment" and form["language"] == b"en"
    assert form["file"][:4] == b"fLaC" and soundfile.info(io.BytesIO(form["file"])).samplerate == 16000


def test_elevenlabs_retries_a_rate_limit_then_groups_words(cloud, clip):
    cloud.script["/v1/speech-to-text"] = [(429, {"detail": "rate limited"}, {"Retry-After": "0"}),
                                          (503, b"busy", {})]
    fields = ElevenLabsScribe(KEY, cloud.url, FAST).caption(clip)
    assert [r[0] for r in cloud.requests] == ["/v1/speech-to-text"] * 3  # a 429, a 503, then the answer
    assert fields["lyrics"] == "la vie\nen rose" and fields["language"] == "fr"
    form = cloud.form(2)
    assert form["model_id"] == b"scribe_v1" and form["timestamps_granularity"] == b"word"
    assert cloud.requests[2][1]["xi-api-key"] == KEY and "Authorization" not in cloud.requests[2][1]


def test_gemini_request_shape_and_json_answer(cloud, clip):
    fields = Gemini(KEY, cloud.url, FAST, lyrics=True).caption(clip)
    assert fields == {"caption": "bright indie rock with jangly guitars", "genre": "indie", "bpm": 132,
                      "keyscale": "E minor", "timesignature": "4", "language": "en", "is_instrumental": False,
                      "lyrics": "[Verse]\nhello\n[Chorus]\nagain"}
    path, headers, body = cloud.requests[0]
    assert path == "/v1beta/models/gemini-2.5-flash:generateContent" and headers["x-goog-api-key"] == KEY
    request = json.loads(body)
    text, audio = request["contents"][0]["parts"]
    assert "JSON" in text["text"] and "lyrics" in text["text"]
    assert audio["inline_data"]["mime_type"] == "audio/flac"
    assert base64.b64decode(audio["inline_data"]["data"])[:4] == b"fLaC"
    assert request["generationConfig"]["responseMimeType"] == "application/json"
    assert "lyrics" not in Gemini(KEY, cloud.url, FAST).caption(clip)  # lyrics only when asked


@pytest.mark.parametrize(("path", "answers", "message"), [
    ("/v1/audio/transcriptions", [(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}, {})],
     r"openai-whisper: the API key was rejected \(HTTP 401\): Incorrect API key provided: \*\*\*"),
    ("/v1/audio/transcriptions", [(400, {"error": {"message": "Audio file is too long"}}, {})],
     r"openai-whisper: HTTP 400: Audio file is too long"),
    ("/v1/audio/transcriptions", [(429, {}, {"Retry-After": "0"})] * 3,
     r"still rate-limited after 3 attempts"),
    ("/v1/audio/transcriptions", [(500, b"<html>oops</html>", {})] * 3, r"HTTP 500: <html>oops</html>"),
    ("/v1/audio/transcriptions", [(200, b"not json", {})], r"the answer is not JSON"),
])
def test_error_codes_are_clear_and_keyless(cloud, clip, path, answers, message):
    cloud.script[path] = list(answers)
    with pytest.raises(CloudError, match=message) as error:
        OpenAIWhisper(KEY, cloud.url, FAST).caption(clip)
    assert KEY not in str(error.value)


def test_gemini_refusals_and_unreachable_servers(cloud, clip):
    cloud.script["/v1beta/models/gemini-2.5-flash"] = [(200, {"promptFeedback": {"blockReason": "SAFETY"}}, {}),
                                                       (200, {"candidates": [{"finishReason": "RECITATION"}]}, {})]
    with pytest.raises(CloudError, match=r"gemini: the request was blocked \(SAFETY\)"):
        Gemini(KEY, cloud.url, FAST).caption(clip)
    with pytest.raises(CloudError, match=r"gemini: no answer in the response \(RECITATION\)"):
        Gemini(KEY, cloud.url, FAST).caption(clip)
    with pytest.raises(CloudError, match=r"gemini: HTTP 400: API key not valid: \*\*\*"):
        Gemini("wrong-key", cloud.url, FAST).caption(clip)  # the server echoed the key: scrubbed
    dead = f"http://127.0.0.1:{cloud.httpd.server_address[1]}"
    cloud.close()
    with pytest.raises(CloudError, match="gemini: cannot reach http://127.0.0.1"):
        Gemini(KEY, dead, FAST).caption(clip)


def test_retry_after_forms():
    def response(value):
        return httpx.Response(429, headers={"Retry-After": value} if value else {})

    assert retry_after(response("2"), 1) == 2.0
    assert 5 <= retry_after(response(formatdate(time.time() + 10, usegmt=True)), 1) <= 10
    assert retry_after(response("soon"), 3) == 4.0 and retry_after(response(""), 1) == 1.0


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(CloudError, match=r"no API key \(set GEMINI_API_KEY"):
        Gemini()
    assert KEY not in repr(Gemini(KEY)) and KEY not in repr(Gemini(KEY).api)


def test_a_batch_with_keys_never_writes_them(cloud, tmp_path, monkeypatch, capsys, caplog):
    songs = tmp_path / "songs"
    songs.mkdir()
    for name in ("a", "b"):
        soundfile.write(songs / f"{name}.wav", tone(2.0), 48000)
    cloud.script["/v1/audio/transcriptions"] = [(400, {"error": {"message": f"bad request for key {KEY}"}}, {})]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    keys = write_keys_file(tmp_path / "keys.json", {"GEMINI_API_KEY": KEY})
    assert keys.stat().st_mode & 0o777 == 0o600
    caplog.set_level(logging.DEBUG)
    code = captioner_main(["--audio-dir", str(songs), "--backend", "gemini,openai-whisper", "--base-url", cloud.url,
                           "--keys-file", str(keys), "--events", str(tmp_path / "events.jsonl"), "--timestamps",
                           "--csv", str(tmp_path / "all.csv")])
    assert code == 0 and not keys.exists()  # the keys file is gone once read
    a, b = (json.loads((songs / f"{name}.json").read_text()) for name in ("a", "b"))
    assert a["caption"].startswith("bright indie rock") and a["lyrics"] == ""  # a's lyrics failed ...
    assert b["lyrics"] == "hello world\nla la"  # ... b's did not
    assert (songs / "b.lrc").read_text() == "[00:00.00]hello world\n[00:01.20]la la\n"
    output = capsys.readouterr()
    assert "a.wav: openai-whisper: HTTP 400: bad request for key ***" in output.out
    for path in (*songs.iterdir(), tmp_path / "events.jsonl", tmp_path / "all.csv"):
        assert KEY.encode() not in path.read_bytes(), path
    for text in (output.out, output.err, *(record.getMessage() for record in caplog.records)):
        assert KEY not in text


CHORUS = "Hold on to me tonight\nNever let me go\n"
SONG = "[Verse 1]\nCity lights are calling\nBridge\n\n[Chorus]\n" + CHORUS * 12 + "\n[Outro]\n" + "la la la\n" * 10


def caption_with_gemini(cloud, tmp_path, monkeypatch, answer: dict) -> dict:
    """One song through ``python -m captioner --backend gemini --gemini-lyrics --base-url <stand-in>``."""
    songs = tmp_path / "songs"
    songs.mkdir()
    soundfile.write(songs / "a.wav", tone(2.0), 48000)
    cloud.script["/v1beta/models/gemini-2.5-flash"] = [answer]
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    code = captioner_main(["--audio-dir", str(songs), "--backend", "gemini", "--gemini-lyrics", "--base-url", cloud.url,
                           "--events", str(tmp_path / "events.jsonl")])
    assert code == 0 and [r[0] for r in cloud.requests] == ["/v1beta/models/gemini-2.5-flash:generateContent"]
    return json.loads((songs / "a.json").read_text())


def test_gemini_lyrics_keep_every_chorus_through_the_cli(cloud, tmp_path, monkeypatch):
    answer = {**GEMINI_ANSWER, "lyrics": SONG}
    sidecar = caption_with_gemini(cloud, tmp_path, monkeypatch, (200, gemini_body(json.dumps(answer)), {}))
    assert sidecar["lyrics"] == SONG.strip()  # 12 choruses, 10 "la la la", the sung line "Bridge": all kept
    assert sidecar["lyrics"].count("Hold on to me tonight") == 12 and sidecar["is_instrumental"] is False


def test_gemini_cut_at_its_token_limit_loses_only_the_loop(cloud, tmp_path, monkeypatch):
    looping = json.dumps({**GEMINI_ANSWER, "lyrics": SONG + "la la la\n" * 80})[:-40]  # cut inside the lyrics
    sidecar = caption_with_gemini(cloud, tmp_path, monkeypatch, (200, gemini_body(looping, "MAX_TOKENS"), {}))
    before_loop = SONG.split("[Outro]")[0] + "[Outro]\nla la la\nla la la"
    assert sidecar["lyrics"] == before_loop.strip() and sidecar["lyrics"].count("Hold on to me tonight") == 12
    assert sidecar["caption"] == GEMINI_ANSWER["caption"] and sidecar["bpm"] == 132


def test_whisper_segments_that_repeat_are_all_kept(cloud, clip):
    """Whisper's answers are never trimmed: each timed segment is a sung line, repeats included."""
    segments = [{"id": i, "start": float(i), "end": i + 0.9, "text": " Hold on to me tonight"} for i in range(12)]
    cloud.script["/v1/audio/transcriptions"] = [(200, {"text": "", "language": "english", "segments": segments}, {})]
    fields = OpenAIWhisper(KEY, cloud.url, FAST).caption(clip)
    assert fields["lyrics"] == "\n".join(["Hold on to me tonight"] * 12) and len(fields[LINES]) == 12
