"""Cloud backends over HTTP: OpenAI Whisper, ElevenLabs Scribe (lyrics) and Gemini (caption + metadata).

Keys come from the environment (``OPENAI_API_KEY``, ``ELEVENLABS_API_KEY``, ``GEMINI_API_KEY``) or
the UI; they go only into request headers and never into logs, events or sidecars. Rate limits
(429) and busy servers (503) are retried after ``Retry-After`` (capped); a rejected key or any
other error is a clear message naming the service and the status.
"""

from __future__ import annotations

import base64
import io
import os
import time

import httpx
import numpy as np

from captioner.backend import Audio, Backend
from captioner.parse import parse_output

RETRY_STATUS = (429, 500, 502, 503)
GEMINI_PROMPT = ("Describe this song for a music model. Answer as JSON with keys caption (a one-sentence description "
                 "of style, instruments, mood and vocals), genre, bpm, key (e.g. E minor), time_signature, language.")


class CloudError(RuntimeError):
    """A cloud service refused or failed; the message never contains the key."""


def wav_bytes(audio: Audio) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(audio.samples), audio.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class HttpBackend(Backend):
    env_key = ""
    default_url = ""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, attempts: int = 4,
                 max_wait: float = 30.0, timeout: float = 300.0):
        self.api_key = api_key or os.environ.get(self.env_key, "")
        if not self.api_key:
            raise CloudError(f"{self.name}: no API key (set {self.env_key} or enter it in the UI)")
        self.base_url = (base_url or self.default_url).rstrip("/")
        self.attempts, self.max_wait, self.timeout = attempts, max_wait, timeout

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def post(self, path: str, **kwargs) -> dict:
        for attempt in range(1, self.attempts + 1):
            response = httpx.post(self.base_url + path, timeout=self.timeout, **kwargs)
            if response.status_code in RETRY_STATUS and attempt < self.attempts:
                wait = float(response.headers.get("Retry-After", 2 ** attempt))
                time.sleep(min(wait, self.max_wait))
                continue
            if response.status_code in (401, 403):
                raise CloudError(f"{self.name}: the API key was rejected (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise CloudError(f"{self.name}: HTTP {response.status_code}: {response.text[:200]}")
            return response.json()
        raise CloudError(f"{self.name}: still rate-limited after {self.attempts} attempts")


class OpenAIWhisper(HttpBackend):
    name, provides, essential = "openai-whisper", ("lyrics", "language"), ("lyrics",)
    env_key, default_url = "OPENAI_API_KEY", "https://api.openai.com"

    def caption(self, audio: Audio) -> dict:
        data = self.post("/v1/audio/transcriptions", headers={"Authorization": f"Bearer {self.api_key}"},
                         files={"file": (audio.path.stem + ".wav", wav_bytes(audio), "audio/wav")},
                         data={"model": "whisper-1", "response_format": "verbose_json"})
        return {"lyrics": data.get("text", "").strip(), "language": (data.get("language") or "")[:2]}


class ElevenLabsScribe(HttpBackend):
    name, provides, essential = "elevenlabs-scribe", ("lyrics", "language"), ("lyrics",)
    env_key, default_url = "ELEVENLABS_API_KEY", "https://api.elevenlabs.io"

    def caption(self, audio: Audio) -> dict:
        data = self.post("/v1/speech-to-text", headers={"xi-api-key": self.api_key},
                         files={"file": (audio.path.stem + ".wav", wav_bytes(audio), "audio/wav")},
                         data={"model_id": "scribe_v1"})
        return {"lyrics": data.get("text", "").strip(), "language": (data.get("language_code") or "")[:2]}


class Gemini(HttpBackend):
    name, provides = "gemini", ("caption", "genre", "bpm", "keyscale", "timesignature", "language")
    essential = ("caption",)
    env_key, default_url = "GEMINI_API_KEY", "https://generativelanguage.googleapis.com"
    model = "gemini-2.5-flash"

    def caption(self, audio: Audio) -> dict:
        body = {"contents": [{"parts": [
            {"text": GEMINI_PROMPT},
            {"inline_data": {"mime_type": "audio/wav", "data": base64.b64encode(wav_bytes(audio)).decode()}}]}]}
        data = self.post(f"/v1beta/models/{self.model}:generateContent", headers={"x-goog-api-key": self.api_key},
                         json=body)
        try:
            text = data["candidates"][0]["content"]["parts"][0]["text"]
        except (KeyError, IndexError, TypeError) as error:
            raise CloudError(f"{self.name}: unexpected answer shape ({error})") from error
        return parse_output(text)
