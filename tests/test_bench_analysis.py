"""The analysis benchmark's plumbing at a tiny size (its figures come from ``python -m bench analysis``)."""

from __future__ import annotations

import json

import pytest

from bench.analysis import bpm_ok, key_tolerant, main
from bench.analysis_set import pieces


def test_set_covers_keys_tempi_meters_and_variations():
    songs = pieces(24)
    assert len({p.key for p in songs}) == 24
    assert min(p.bpm for p in songs) < 63 and max(p.bpm for p in songs) > 177
    assert {p.beats_per_bar for p in songs} == {3, 4}
    assert any(not p.drums for p in songs) and any(p.drift for p in songs) and any(p.key_change for p in songs)
    assert any(p.swing for p in songs) and any(p.detune_cents for p in songs)
    assert pieces(3, seed=5) == pieces(3, seed=5)  # a generator, reproducible


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
    assert set(record) >= {"bpm_octave_correct", "key_correct", "key_tolerant_correct", "meter_correct", "failures"}
    table = (tmp_path / "analysis.md").read_text()
    assert "| key_tolerant |" in table and "seconds per song" in table
    assert all(failure["missed"] for failure in figures["failures"])  # a listed song names what it missed
