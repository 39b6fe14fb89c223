"""A scan over a corpus of bad inputs reports each file with its reason and keeps going."""

from __future__ import annotations

import pytest

from acestep_train.dataset import ScanOptions, scan_folder
from audio_fixtures import bad_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return folder, bad_corpus(folder)


def test_every_bad_file_gets_its_reason(corpus):
    folder, expected = corpus
    samples = {s.audio_path.name: s for s in scan_folder(folder)}
    assert set(samples) == set(expected)
    for name, status in expected.items():
        assert samples[name].status.startswith(status), (name, samples[name].status)


def test_odd_but_usable_files_carry_notes(corpus):
    folder, _ = corpus
    samples = {s.audio_path.name: s for s in scan_folder(folder)}
    assert any("8 channels" in n for n in samples["eight.wav"].notes)
    assert any("low sample rate 8000 Hz" in n for n in samples["phone.wav"].notes)
    assert samples["hires.flac"].duration == pytest.approx(2.0, abs=0.01)
    latin = samples["latin.wav"]
    assert latin.caption == "café accordéon, chanson" and any("not UTF-8" in n for n in latin.notes)
    broken = samples["brokenjson.wav"]
    assert broken.caption == "" and any("not valid JSON" in n for n in broken.notes)
    assert samples["my song – ünïcode ♪.ogg"].caption == "non-ascii name ok"


def test_truncated_mp3_says_why(corpus):
    folder, _ = corpus
    sample = {s.audio_path.name: s for s in scan_folder(folder)}["truncated.mp3"]
    assert sample.status == "truncated (the header says 3.0 s but the data ends early)"


def test_a_scan_never_modifies_the_users_files(corpus):
    folder, _ = corpus
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    scan_folder(folder, ScanOptions(check_silence=True))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope: folder does not exist"):
        scan_folder(tmp_path / "nope")
