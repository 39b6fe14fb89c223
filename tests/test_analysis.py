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


def test_confidence_is_lower_on_an_ambiguous_clip():
    """A clear piece (drums, full triads, I-IV-V-I and a final chord) against a click at 160 BPM
    (80 fits as well), C major and A minor triads taking turns (which is the tonic?) and a
    whole-tone cluster (no key at all)."""
    clear = analyze_signal(render(Piece(bpm=100, tonic=0, mode="major", seconds=12, progression=1,
                                        final_chord=True, seed=1)))
    click = analyze_signal(librosa_rate(click_track(160, seconds=12)))
    relative = analyze_signal(librosa_rate(chords([[0, 4, 7], [9, 12, 16]] * 3)))
    cluster = analyze_signal(librosa_rate(chords([[0, 2, 4, 6, 8, 10]] * 6)))
    for result in (clear, click, relative, cluster):
        assert all(0 <= c <= 1 for c in (result.bpm_confidence, result.key_confidence,
                                        result.timesignature_confidence))
    assert clear.bpm == 100 and clear.key == "C major"
    assert click.bpm_confidence < 0.6 < clear.bpm_confidence
    assert relative.key_confidence < clear.key_confidence - 0.1
    assert cluster.key_confidence < clear.key_confidence - 0.1


def librosa_rate(y: np.ndarray) -> np.ndarray:
    """44.1 kHz fixture audio at the analysis rate."""
    import librosa

    return librosa.resample(np.asarray(y, np.float32), orig_sr=44100, target_sr=22050)


@pytest.mark.parametrize("piece", [
    Piece(bpm=68, tonic=2, mode="major", seconds=20, hats=4, half_time=True, pad=True, reverb=1.2, seed=12),
    Piece(bpm=96, tonic=5, mode="major", beats_per_bar=3, seconds=20, bass="syncopated", seed=15),
], ids=["68-half-time-sixteenths", "96-waltz-syncopated-bass"])
def test_octave_and_three_four_from_whole_song_evidence(piece):
    """A slow song whose hi-hats run in sixteenths over half-time drums (read as 136 before the
    percussive and harmonic evidence), and a waltz whose bass moves in dotted values (read as 191)."""
    result = analyze_signal(render(piece))
    assert abs(result.bpm - piece.bpm) <= 2 and result.bpm_confidence > 0.5
    assert result.timesignature == str(piece.beats_per_bar)


def test_relative_major_decided_by_the_tonic():
    """B minor dwelling on its relative major's chords (i-VI-III-VII) under a dense top: D major
    before the tonic evidence; the bass and the chord on the tonic name B."""
    piece = Piece(bpm=128, tonic=11, mode="minor", seconds=20, progression=1, dense=True, pad=True, seed=24)
    result = analyze_signal(render(piece))
    assert result.key == "B minor" and result.key_confidence > 0.5


def test_harmonic_rhythm_rules_out_a_three_four_reading():
    """Chords every 4 beats at 72 BPM: a whole number of beats between changes at 72, 5.33 at 96."""
    from acestep_train.analysis.evidence import Evidence

    flat = tempo.periodicity(np.r_[1.0, np.zeros(2999)], 100.0)
    evidence = Evidence(low_mid=flat, chord_period=60 / 72 * 4, chord_clarity=1.0)
    assert octave.chord_fit(evidence.beats_per_chord(72)) > octave.chord_fit(evidence.beats_per_chord(96)) + 3
    assert octave.chord_fit(evidence.beats_per_chord(144)) > octave.chord_fit(evidence.beats_per_chord(96))


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
