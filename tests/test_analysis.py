"""Measured BPM, key and time signature: click tracks, chord progressions, detuned and multi-instrument
pieces from the bench generator, and the ``analyze-audio`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from acestep_train.analysis import analyze_signal, octave, tempo
from acestep_train.analysis.key import PROFILES
from acestep_train.cli import main
from acestep_train.dataset.analysis import analyze
from audio_fixtures import chords, click_track
from bench.synth import Piece, render


@pytest.mark.parametrize("bpm", [80, 97, 133, 160])
def test_bpm_of_click_tracks(tmp_path, bpm):
    soundfile.write(tmp_path / "click.wav", click_track(bpm, seconds=12), 44100)
    assert abs(analyze(tmp_path / "click.wav").bpm - bpm) <= 2


def test_tempo_is_not_quantised_to_frames():
    """132 BPM falls between whole onset frames at a coarse hop (129.2 / 136); the fine hop and the
    parabolic refinement land within half a BPM."""
    y = click_track(132, seconds=15, rate=22050)
    result = analyze_signal(y)
    assert abs(result.bpm_exact - 132) < 0.5 and result.bpm == 132


@pytest.mark.parametrize(("key", "progression"), [
    ("C major", [[0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7]]),
    ("E minor", [[4, 7, 11], [9, 12, 16], [11, 14, 18], [4, 7, 11]]),
    ("A minor", [[9, 12, 16], [2, 5, 9], [4, 8, 11], [9, 12, 16]]),
])
def test_key_of_chord_progressions(tmp_path, key, progression):
    soundfile.write(tmp_path / "chords.wav", chords(progression), 44100)
    assert analyze(tmp_path / "chords.wav").key == key


@pytest.mark.parametrize("piece", [
    Piece(bpm=100, tonic=2, mode="major", beats_per_bar=4, seconds=12, detune_cents=40, seed=1),  # 40 cents sharp
    Piece(bpm=150, tonic=9, mode="minor", beats_per_bar=3, seconds=12, swing=0.33, seed=2),
    Piece(bpm=84, tonic=7, mode="major", beats_per_bar=4, seconds=12, drums=False, seed=3),
], ids=["D-major-detuned", "A-minor-waltz-swing", "G-major-no-drums"])
def test_multi_instrument_pieces(piece):
    result = analyze_signal(render(piece))
    assert abs(result.bpm - piece.bpm) <= 2
    assert result.key == piece.key
    assert result.timesignature == str(piece.beats_per_bar)
    assert all(0 < c <= 1 for c in (result.bpm_confidence, result.key_confidence, result.timesignature_confidence))
    if piece.detune_cents:
        assert abs(result.tuning_cents - piece.detune_cents) < 10


def test_octave_decision_prefers_the_reading_whose_beats_carry_onsets():
    frame_rate = 100.0
    onset = np.zeros(3000)
    onset[::50] = 1.0  # 120 BPM pulses ...
    onset[::100] += 1.0  # ... with a stronger one every other beat: 60 BPM also fits
    period = tempo.periodicity(onset, frame_rate)
    choice = octave.choose(period, [bpm for bpm, _ in tempo.candidates(period)])
    assert abs(choice.bpm - 120) < 1 and 0.5 < choice.confidence <= 1
    assert any(abs(bpm - 60) < 1 for bpm, _ in choice.readings)  # the half reading was weighed, and lost
    onset[50::100] = 0.0  # the in-between beats gone: only 60 BPM is real
    period = tempo.periodicity(onset, frame_rate)
    assert abs(octave.choose(period, [bpm for bpm, _ in tempo.candidates(period)]).bpm - 60) < 1


def test_three_published_profiles_vote():
    assert set(PROFILES) == {"krumhansl-kessler", "temperley", "albrecht-shanahan"}
    assert all(len(major) == len(minor) == 12 for major, minor in PROFILES.values())


def test_silence_gives_no_values():
    result = analyze_signal(np.zeros(22050 * 5, np.float32))
    assert result.bpm is None and result.key is None and result.timesignature is None


def test_analyze_audio_command(tmp_path, capsys):
    soundfile.write(tmp_path / "click.wav", click_track(120, seconds=10), 44100)
    (tmp_path / "bad.wav").write_text("nope")
    assert main(["analyze-audio", str(tmp_path / "click.wav"), str(tmp_path / "bad.wav"), "--json",
                 "--max-seconds", "8"]) == 1
    lines = capsys.readouterr().out.splitlines()
    found = json.loads(lines[0])
    assert found["bpm"] == 120 and found["duration"] == 10.0
    assert {"key", "timesignature", "bpm_confidence", "key_confidence", "timesignature_confidence"} <= set(found)
    assert 0 < found["bpm_confidence"] <= 1
    assert json.loads(lines[1])["file"] == "bad.wav" and "unreadable" in json.loads(lines[1])["error"]
