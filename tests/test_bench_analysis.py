"""The analysis benchmark's plumbing at a tiny size (its figures come from ``python -m bench analysis``)."""

from __future__ import annotations

import json

import pytest

from bench.analysis import bpm_ok, key_error, key_tolerant, main, tempo_error
from bench.analysis_set import pieces


def test_set_covers_keys_tempi_meters_and_variations():
    songs = pieces(24)
    assert len({p.key for p in songs}) == 24
    assert min(p.bpm for p in songs) < 63 and max(p.bpm for p in songs) > 177
    assert {p.beats_per_bar for p in songs} == {3, 4}
    assert any(not p.drums for p in songs) and any(p.drift for p in songs) and any(p.key_change for p in songs)
    assert any(p.swing for p in songs) and any(p.detune_cents for p in songs)
    assert pieces(3, seed=5) == pieces(3, seed=5)  # a generator, reproducible


def test_set_is_shaped_like_produced_songs():
    songs = pieces(24)
    slow = [p for p in songs if p.bpm < 90]
    assert any(abs(p.bpm - target) < 1.5 for p in slow for target in (68, 72, 84))
    assert sum(p.hats == 4 for p in slow) >= 3 and any(p.half_time for p in songs)
    assert any(p.bass == "syncopated" for p in songs) and any(p.echo for p in songs)
    assert all(any(getattr(p, trait) for p in songs) for trait in ("dense", "pad", "sidechain", "intro", "reverb",
                                                                     "limiter", "powerchords", "final_chord"))
    minor_relative = [p for p in songs if p.mode == "minor" and p.progression in (1, 3)]  # dwell on III
    assert len(minor_relative) >= 4
    assert sum(p.beats_per_bar == 3 for p in songs) >= 5


def test_render_is_deterministic():
    import numpy as np

    from bench.synth import render

    piece = pieces(3, seconds=8)[2]  # the half-time, sixteenths, syncopated, dense, reverb archetype
    first = render(piece)
    assert len(first) == 8 * 22050 and np.array_equal(first, render(piece)) and 0.8 < np.abs(first).max() <= 0.9


@pytest.mark.parametrize(("found", "truth", "kind"), [
    (136, 68, "octave"), (84, 168, "octave"), (95, 72, "3:4"), (83, 123, "3:4"), (69, 68, None), (110, 68, "other"),
    (None, 68, "none"),
])
def test_tempo_error_classes(found, truth, kind):
    assert tempo_error(found, truth) == kind


@pytest.mark.parametrize(("found", "truth", "kind"), [
    ("C major", "A minor", "relative"), ("G major", "C major", "dominant"), ("F major", "C major", "dominant"),
    ("C minor", "C major", "parallel"), ("D major", "C major", "other"), ("A minor", "A minor", None),
])
def test_key_error_classes(found, truth, kind):
    assert key_error(found, truth) == kind


@pytest.mark.parametrize(("found", "truth", "ok"), [
    ("A minor", "C major", True), ("C major", "A minor", True), ("G major", "C major", True),
    ("F major", "C major", True), ("C minor", "C major", False), ("E minor", "C major", False),
    (None, "C major", False),
])
def test_key_tolerance(found, truth, ok):
    assert key_tolerant(found, truth) is ok


def test_bpm_tolerance():
    assert bpm_ok(121, 120) and not bpm_ok(123, 120)
    assert bpm_ok(60, 120, octave=True) and not bpm_ok(60, 120)


def test_writes_the_table(tmp_path):
    figures = main(["--count", "2", "--seconds", "6"], results_dir=tmp_path)
    record = json.loads((tmp_path / "analysis.json").read_text())
    assert record["songs"] == 2 and record["bpm_correct"].endswith("/2") and record["analysis_s_per_song"] > 0
    assert set(record) >= {"bpm_octave_correct", "key_correct", "key_tolerant_correct", "meter_correct", "failures",
                           "error_classes"}
    assert set(record["error_classes"]) == {"tempo", "key"}
    table = (tmp_path / "analysis.md").read_text()
    assert "| key_tolerant |" in table and "seconds per song" in table and "Errors by class" in table
    assert all(failure["missed"] for failure in figures["failures"])  # a listed song names what it missed
