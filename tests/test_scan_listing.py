"""The scan's one-listing-per-folder walk and raw block reads give what rglob, stat and read gave."""

from __future__ import annotations

import json

import numpy as np
import soundfile

import acestep_train.dataset.scan as scan
from acestep_train.dataset.record import Sample
from acestep_train.dataset.sidecars import apply_sidecars


def rglob_audio(folder):
    """What ``audio_files`` returned before it listed folders itself."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in scan.AUDIO_EXTENSIONS
                  and not p.name.startswith("."))


def test_listing_finds_what_rglob_finds(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.wav").write_bytes(b"x")
    root = tmp_path / "songs"
    (root / "a" / "b").mkdir(parents=True)
    (root / "dir.wav").mkdir()  # a folder named like audio is not a file
    for name in ("one.wav", "a/two.FLAC", "a/b/three.mp3", ".hidden.wav", "notes.txt"):
        (root / name).write_bytes(b"x")
    (root / "linked.wav").symlink_to(outside / "elsewhere.wav")  # a link to a file counts
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)  # a linked folder is not entered
    found = scan.audio_files(root)
    assert found == rglob_audio(root)
    assert [p.relative_to(root).as_posix() for p in found] == ["a/b/three.mp3", "a/two.FLAC", "linked.wav", "one.wav"]


def test_sidecars_from_a_listing_match_sidecars_from_stat(tmp_path):
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"x")
    (tmp_path / "song.json").write_text(json.dumps({"bpm": 90}))
    (tmp_path / "song.lyrics").write_text("[Verse]\nla")
    (tmp_path / "song.txt").write_text("a caption")
    by_stat, by_listing = Sample(audio), Sample(audio)
    apply_sidecars(by_stat, "caption")
    apply_sidecars(by_listing, "caption", scan.folder_listing(tmp_path)[tmp_path])
    assert by_listing == by_stat
    assert (by_listing.bpm, by_listing.lyrics, by_listing.caption) == (90, "[Verse]\nla", "a caption")


class PublicOnly:
    """A handle without soundfile's internals."""

    def __init__(self, handle):
        self.read = handle.read


def test_raw_reads_match_soundfile_reads(tmp_path):
    path = tmp_path / "song.flac"
    audio = (0.1 * np.random.default_rng(0).standard_normal((48000, 2))).astype("float32")
    soundfile.write(path, audio, 48000)
    with soundfile.SoundFile(str(path)) as handle:
        raw = [scan._read(handle, 4096), scan._read(handle, 1 << 20)]
        handle.seek(0)
        plain = [handle.read(4096, dtype="float32", always_2d=True), handle.read(1 << 20, dtype="float32")]
        handle.seek(0)
        fallback = scan._read(PublicOnly(handle), 4096)  # another soundfile: the public read
    assert np.array_equal(raw[0], plain[0]) and np.array_equal(raw[1], plain[1])
    assert raw[1].shape == (48000 - 4096, 2) and np.array_equal(fallback, plain[0])
