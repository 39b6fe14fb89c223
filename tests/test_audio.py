"""Decoding every common format to 48 kHz stereo, normalization, header-only durations."""

from __future__ import annotations

import shutil

import pytest
import soundfile
import torch
import torchaudio.functional as F

from acestep_train.audio import AudioError, load_for_model, normalize, probe
from audio_fixtures import tone


@pytest.mark.parametrize(("ext", "fmt", "rate"), [
    ("wav", "WAV", 44100), ("flac", "FLAC", 96000), ("ogg", "OGG", 48000), ("opus", "OGG", 48000),
    ("mp3", "MP3", 44100)])
def test_formats_decode_to_48k_stereo(tmp_path, ext, fmt, rate):
    path = tmp_path / f"song.{ext}"
    subtype = "OPUS" if ext == "opus" else None
    soundfile.write(path, tone(2.0, rate=rate, channels=1), rate, format=fmt, subtype=subtype)
    audio = load_for_model(path, 240.0, "peak")
    assert audio.shape[0] == 2 and audio.dtype == torch.float32
    assert abs(audio.shape[1] - 96000) < 48000 * 0.06  # codecs pad a little
    assert float(audio.abs().max()) == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    assert probe(path).duration == pytest.approx(2.0, abs=0.06)


def test_truncates_to_max_duration(tmp_path):
    soundfile.write(tmp_path / "long.wav", tone(3.0), 48000)
    assert load_for_model(tmp_path / "long.wav", 1.25, "none").shape == (2, 60000)


def test_lufs_normalization_hits_minus_14():
    audio = torch.from_numpy(tone(5.0, amp=0.05).T.copy())
    out = normalize(audio, "lufs")
    assert float(F.loudness(out, 48000)) == pytest.approx(-14.0, abs=0.2)
    loud = torch.from_numpy(tone(5.0, amp=0.9).T.copy())
    assert float(normalize(loud * 4, "lufs").abs().max()) <= 10 ** (-1 / 20) + 1e-6  # never clips


def test_silence_and_bad_mode_are_refused():
    with pytest.raises(AudioError, match="digital silence"):
        normalize(torch.zeros(2, 100), "peak")
    with pytest.raises(ValueError, match="normalize must be one of"):
        normalize(torch.ones(2, 100), "rms")


@pytest.mark.skipif(shutil.which("ffmpeg") is not None, reason="this machine has ffmpeg")
def test_m4a_without_ffmpeg_says_so(tmp_path):
    (tmp_path / "song.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 64)
    with pytest.raises(AudioError, match="song.m4a: .m4a needs ffmpeg, which is not installed here"):
        probe(tmp_path / "song.m4a")
