"""Local Whisper backend: a tiny random-init Whisper written to disk, loaded by the real code."""

from __future__ import annotations

import json
import re

import pytest
import soundfile

from captioner.backend import load_audio
from captioner.batch import BatchOptions, caption_folder
from captioner.whisper_backend import LocalWhisper
from audio_fixtures import tone
from tiny_whisper import write_tiny_whisper


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory):
    return write_tiny_whisper(tmp_path_factory.mktemp("whisper"))


def test_long_song_is_transcribed_whole_with_timestamps(whisper_dir, tmp_path):
    soundfile.write(tmp_path / "long.wav", tone(45.0, rate=16000), 16000)  # longer than Whisper's 30 s window
    backend = LocalWhisper(whisper_dir, device="cpu", language="en", max_new_tokens=12)
    result = backend.segments(load_audio(tmp_path / "long.wav"))
    assert result["chunks"] and result["chunks"][-1]["timestamp"][0] > 30.0  # decoding went past the first window
    backend.unload()
    assert backend.asr is None


def test_batch_writes_lyrics_sidecars_and_timed_lines(whisper_dir, tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(3.0), 48000)
    summary = caption_folder(tmp_path, [LocalWhisper(whisper_dir, device="cpu", language="en", max_new_tokens=8)],
                             BatchOptions(timestamps=True))
    assert summary.done == ["a.wav"] and not summary.failed
    sidecar = json.loads((tmp_path / "a.json").read_text())
    assert isinstance(sidecar["lyrics"], str) and sidecar["filename"] == "a.wav" and sidecar["language"] == "en"
    lrc = (tmp_path / "a.lrc").read_text()
    assert all(re.match(r"^\[\d\d:\d\d\.\d\d\]", line) for line in lrc.splitlines())


@pytest.fixture(scope="module")
def wide_whisper_dir(tmp_path_factory):
    return write_tiny_whisper(tmp_path_factory.mktemp("whisper64"), width=64)  # 4-bit kernels need >= 64 inputs


@pytest.mark.parametrize(("quantize", "layer"), [("8bit", "Linear8bitLt"), ("4bit", "Linear4bit")])
def test_quantized_loading(wide_whisper_dir, tmp_path, quantize, layer):
    soundfile.write(tmp_path / "a.wav", tone(2.0), 48000)
    backend = LocalWhisper(wide_whisper_dir, device="cpu", quantize=quantize, language="en", max_new_tokens=4)
    assert "lyrics" in backend.caption(load_audio(tmp_path / "a.wav"))
    assert any(type(module).__name__ == layer for module in backend.asr.model.modules())
    backend.unload()
    assert not backend.loaded


def test_missing_model_folder_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model here"):
        LocalWhisper(tmp_path / "nothing")


def test_two_pass_cli_captions_then_transcribes(whisper_dir, tmp_path, capsys):
    from audio_fixtures import click_track
    from captioner.__main__ import main

    # 10 s: a 6 s click track with no harmony is a near-tie between 110 and 55 (confidence 0.55)
    soundfile.write(tmp_path / "song.wav", click_track(110, seconds=10, rate=48000), 48000)
    assert main(["--audio-dir", str(tmp_path), "--backend", "librosa,whisper", "--whisper-dir", str(whisper_dir),
                 "--language", "en", "--two-pass", "--events", str(tmp_path / "ev.jsonl")]) == 0
    sidecar = json.loads((tmp_path / "song.json").read_text())
    assert sidecar["bpm"] == 110 and "lyrics" in sidecar
    summaries = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()
                 if json.loads(line)["event"] == "summary"]
    assert [s["stage"] for s in summaries] == ["caption", "lyrics", "all"]  # one pass per group, then the whole
