"""Cloud backends: OpenAI Whisper and ElevenLabs Scribe (timed lyrics), Gemini (caption, metadata, lyrics).

Keys come from the UI (``api_key=``) or the environment (``OPENAI_API_KEY``,
``ELEVENLABS_API_KEY``, ``GEMINI_API_KEY``); they go only into request headers, never into
logs, events or sidecars (``captioner.http_client``). Audio is sent as 16 kHz mono FLAC: all
three services take it, and a 10-minute song stays far under their upload limits.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np

from captioner import normalize
from captioner.backend import LINES, Audio, Backend
from captioner.http_client import ApiClient, CloudError, RetryPolicy
from captioner.lyrics import TimedLine, plain_lyrics, words_to_lines
from captioner.parse import parse_output
from captioner.transcript import parse_transcription

GEMINI_PROMPT = """Listen to this song and describe it for training a text-to-music model.
Answer with one JSON object and nothing else, with these keys:
"caption": one paragraph: genre and style, vocals (gender, timbre, delivery) or "instrumental", lead instruments, \
tempo feel, mood and atmosphere, how the arrangement develops; no artist or song names;
"genre": the main genre, a few words;
"bpm": the tempo as an integer;
"key": the key, e.g. "F# minor";
"time_signature": beats per bar, e.g. "4" for 4/4;
"language": the ISO 639-1 code of the sung language, or "unknown" if instrumental;
"is_instrumental": true or false;
"""
GEMINI_LYRICS = ('"lyrics": the complete lyrics, one sung line per line, with section tags on their own lines '
                 '([Intro], [Verse 1], [Chorus], [Bridge], [Outro], ...), or "[Instrumental]".')


def flac_bytes(audio: Audio) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(np.asarray(audio.samples), -1.0, 1.0), audio.sample_rate, format="FLAC",
                    subtype="PCM_16")
    return buffer.getvalue()


class CloudBackend(Backend):
    env_key = ""
    default_url = ""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, policy: RetryPolicy = RetryPolicy(),
                 language: str | None = None):
        key = api_key or os.environ.get(self.env_key, "")
        if not key:
            raise CloudError(f"{self.name}: no API key (set {self.env_key} in the environment, or type it under "
                              "API keys in the Auto-label tab or the captioner app)")
        self.api = ApiClient(self.name, base_url or self.default_url, key, policy)
        self.language = language

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self.api.base_url!r})"

    def upload(self, audio: Audio) -> dict:
        return {"file": (audio.path.stem + ".flac", flac_bytes(audio), "audio/flac")}

    def unload(self) -> None:
        self.api.close()


class OpenAIWhisper(CloudBackend):
    """``POST /v1/audio/transcriptions`` (whisper-1, verbose JSON with segment timings)."""

    name, provides, essential = "openai-whisper", ("lyrics", "language"), ("lyrics",)
    env_key, default_url = "OPENAI_API_KEY", "https://api.openai.com"

    def caption(self, audio: Audio) -> dict:
        form = {"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities[]": "segment"}
        if self.language:
            form["language"] = self.language
        data = self.api.post("/v1/audio/transcriptions", headers={"Authorization": f"Bearer {self.api.secret}"},
                             files=self.upload(audio), data=form)
        lines = [TimedLine(float(s["start"]), float(s["end"]), str(s["text"]).strip())
                 for s in data.get("segments") or [] if str(s.get("text", "")).strip()]
        fields = {"lyrics": plain_lyrics(lines) or str(data.get("text", "")).strip(), LINES: lines}
        found = normalize.language(data.get("language"))
        return {**fields, "language": found} if found else fields


class ElevenLabsScribe(CloudBackend):
    """``POST /v1/speech-to-text`` (scribe_v1, word timings grouped into lines at pauses)."""

    name, provides, essential = "elevenlabs-scribe", ("lyrics", "language"), ("lyrics",)
    env_key, default_url = "ELEVENLABS_API_KEY", "https://api.elevenlabs.io"

    def caption(self, audio: Audio) -> dict:
        form = {"model_id": "scribe_v1", "timestamps_granularity": "word", "tag_audio_events": "false"}
        if self.language:
            form["language_code"] = self.language
        data = self.api.post("/v1/speech-to-text", headers={"xi-api-key": self.api.secret},
                             files=self.upload(audio), data=form)
        lines = words_to_lines(data.get("words") or [])
        fields = {"lyrics": plain_lyrics(lines) or str(data.get("text", "")).strip(), LINES: lines}
        found = normalize.language(data.get("language_code"))
        return {**fields, "language": found} if found else fields


class Gemini(CloudBackend):
    """``POST /v1beta/models/{model}:generateContent`` with the song inline and a JSON answer."""

    name, essential = "gemini", ("caption",)
    env_key, default_url = "GEMINI_API_KEY", "https://generativelanguage.googleapis.com"

    def __init__(self, api_key: str | None = None, base_url: str | None = None, policy: RetryPolicy = RetryPolicy(),
                 language: str | None = None, model: str = "gemini-2.5-flash", lyrics: bool = False):
        super().__init__(api_key, base_url, policy, language)
        self.model, self.lyrics = model, lyrics
        self.provides = ("caption", "genre", "bpm", "keyscale", "timesignature", "language", "is_instrumental") + (
            ("lyrics",) if lyrics else ())

    def request(self, audio: Audio) -> dict:
        prompt = GEMINI_PROMPT + (GEMINI_LYRICS if self.lyrics else "")
        return {"contents": [{"role": "user", "parts": [
            {"text": prompt},
            {"inline_data": {"mime_type": "audio/flac", "data": base64.b64encode(flac_bytes(audio)).decode()}}]}],
            "generationConfig": {"responseMimeType": "application/json", "temperature": 0.2}}

    def answer_text(self, data: dict) -> tuple[str, bool]:
        """(the answer's text, whether it stopped at the output token limit: finishReason MAX_TOKENS)."""
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            raise self.api.fail(f"the request was blocked ({blocked})")
        try:
            parts = data["candidates"][0]["content"]["parts"]
        except (KeyError, IndexError, TypeError):
            reason = ((data.get("candidates") or [{}])[0] or {}).get("finishReason", "no candidates")
            raise self.api.fail(f"no answer in the response ({reason})") from None
        cut = data["candidates"][0].get("finishReason") == "MAX_TOKENS"
        return "".join(part.get("text", "") for part in parts if isinstance(part, dict)), cut

    def caption(self, audio: Audio) -> dict:
        data = self.api.post(f"/v1beta/models/{self.model}:generateContent",
                             headers={"x-goog-api-key": self.api.secret}, json=self.request(audio))
        text, cut = self.answer_text(data)
        fields = parse_output(text, caption_from_prose=False, cut=cut, wanted=self.provides)
        if self.lyrics and "lyrics" in fields:  # a cut lyrics value was trimmed by parse_output
            fields.update(parse_transcription(fields["lyrics"]))
        return {name: value for name, value in fields.items() if name in self.provides}
