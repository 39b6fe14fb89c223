"""librosa analysis: BPM within 2 of synthesized click tracks; key of synthesized chords."""

from __future__ import annotations

import pytest
import soundfile

from acestep_train.cli import main
from acestep_train.dataset.analysis import analyze
from audio_fixtures import chords, click_track


@pytest.mark.parametrize("bpm", [80, 97, 120, 133, 160])
def test_bpm_of_click_tracks(tmp_path, bpm):
    soundfile.write(tmp_path / "click.wav", click_track(bpm), 44100)
    assert abs(analyze(tmp_path / "click.wav").bpm - bpm) <= 2


@pytest.mark.parametrize(("key", "progression"), [
    ("C major", [[0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7]]),
    ("E minor", [[4, 7, 11], [9, 12, 16], [11, 14, 18], [4, 7, 11]]),
    ("G major", [[7, 11, 14], [0, 4, 7], [2, 6, 9], [7, 11, 14]]),
    ("A minor", [[9, 12, 16], [2, 5, 9], [4, 8, 11], [9, 12, 16]]),
])
def test_key_of_chord_progressions(tmp_path, key, progression):
    soundfile.write(tmp_path / "chords.wav", chords(progression), 44100)
    assert analyze(tmp_path / "chords.wav").key == key


def test_analyze_audio_command(tmp_path, capsys):
    soundfile.write(tmp_path / "click.wav", click_track(120, seconds=10), 44100)
    (tmp_path / "bad.wav").write_text("nope")
    assert main(["analyze-audio", str(tmp_path / "click.wav"), str(tmp_path / "bad.wav"), "--json"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert '"bpm": 120' in lines[0] and '"duration": 10.0' in lines[0]
    assert "bad.wav: unreadable" in lines[1]
