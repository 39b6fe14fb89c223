"""Sound made in the tests: tones, click tracks, chords, and a corpus of bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile


def tone(seconds: float, rate: int = 48000, freq: float = 220.0, channels: int = 2, amp: float = 0.3):
    t = np.arange(int(seconds * rate)) / rate
    mono = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([mono * (1 - 0.1 * c) for c in range(channels)], 1).astype("float32")


def click_track(bpm: float, seconds: float = 20.0, rate: int = 44100):
    y = np.zeros(int(seconds * rate), "float32")
    n = int(0.01 * rate)
    burst = np.exp(-np.arange(n) / (0.002 * rate)) * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
    for beat in np.arange(0, seconds - 0.02, 60.0 / bpm):
        start = int(beat * rate)
        y[start:start + n] += burst[: len(y) - start]
    return y


def chords(progression: list[list[int]], seconds_each: float = 2.0, rate: int = 44100):
    """Semitones above C4 per chord, e.g. [[4, 7, 11], ...] for E minor."""
    t = np.arange(int(seconds_each * rate)) / rate
    parts = [sum(np.sin(2 * np.pi * 261.63 * 2 ** (n / 12) * t) for n in chord) * 0.2 for chord in progression]
    return np.concatenate(parts).astype("float32")


def bad_corpus(folder: Path) -> dict[str, str]:
    """Write every kind of bad or odd input; returns {file name: expected status prefix}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.wav").write_bytes(b"")
    (folder / "text.wav").write_text("I am a text file, not a WAV")
    soundfile.write(folder / "full.mp3", tone(3.0), 48000, format="MP3")
    data = (folder / "full.mp3").read_bytes()
    (folder / "truncated.mp3").write_bytes(data[: len(data) // 3])
    os.remove(folder / "full.mp3")
    soundfile.write(folder / "blip.wav", tone(0.2), 48000)
    soundfile.write(folder / "silence.wav", np.zeros((48000 * 2, 2), "float32"), 48000)
    soundfile.write(folder / "eight.wav", tone(2.0, channels=8), 48000)
    soundfile.write(folder / "phone.wav", tone(2.0, rate=8000), 8000)
    soundfile.write(folder / "hires.flac", tone(2.0, rate=192000), 192000)
    soundfile.write(folder / "latin.wav", tone(2.0), 48000)
    (folder / "latin.caption.txt").write_bytes("caf\xe9 accord\xe9on, chanson".encode("cp1252"))
    soundfile.write(folder / "brokenjson.wav", tone(2.0), 48000)
    (folder / "brokenjson.json").write_text('{"caption": "unterminated')
    soundfile.write(folder / "my song – ünïcode ♪.ogg", tone(2.0), 48000, format="OGG")
    (folder / "my song – ünïcode ♪.json").write_text(json.dumps({"caption": "non-ascii name ok"}))
    return {
        "zero.wav": "empty file",
        "text.wav": "unreadable",
        "truncated.mp3": "truncated",
        "blip.wav": "too short",
        "silence.wav": "silent",
        "eight.wav": "ok",
        "phone.wav": "ok",
        "hires.flac": "ok",
        "latin.wav": "ok",
        "brokenjson.wav": "ok",
        "my song – ünïcode ♪.ogg": "ok",
    }
