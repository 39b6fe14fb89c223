"""Robustness and ACE-Step 1.5 compatibility: damaged streams, its dataset.json and CSV, strict types."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import soundfile

from acestep_train.dataset import DatasetMeta, ScanOptions, load_dataset, save_dataset, scan_folder
from acestep_train.dataset import scan as scan_module
from acestep_train.dataset.record import training_caption
from audio_fixtures import tone


def damaged_mp3(path, seed: int = 1) -> None:
    """An mp3 whose header is fine but whose middle is noise (a bad sector, a broken copy)."""
    soundfile.write(path, tone(6.0), 48000, format="MP3")
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 5000] = np.random.default_rng(seed).bytes(5000)
    path.write_bytes(bytes(data))


def test_a_damaged_stream_is_a_status_not_a_crash(tmp_path):
    damaged_mp3(tmp_path / "a_damaged.mp3")
    soundfile.write(tmp_path / "b_fine.wav", tone(2.0), 48000)
    samples = {s.audio_path.name: s for s in scan_folder(tmp_path)}
    assert samples["a_damaged.mp3"].status.startswith(("corrupt audio data", "truncated"))
    assert samples["b_fine.wav"].status == "ok"  # the scan went on past the damaged file


def test_decoder_errors_after_the_header_become_corrupt(tmp_path, monkeypatch):
    soundfile.write(tmp_path / "song.flac", tone(2.0), 48000)

    def broken_read(*args, **kwargs):
        raise soundfile.LibsndfileError(0, prefix="Error reading: ")

    monkeypatch.setattr(soundfile.SoundFile, "read", broken_read)
    monkeypatch.setattr(scan_module, "_read", broken_read)  # the scan's own block reads (no seek back)
    [sample] = scan_folder(tmp_path)
    assert sample.status.startswith("corrupt audio data") and str(tmp_path) not in sample.status


def acestep_dataset(folder, genre_ratio=30):
    """A dataset.json exactly as ACE-Step 1.5's dataset builder saves one."""
    soundfile.write(folder / "a.wav", tone(2.0), 48000)
    soundfile.write(folder / "b.wav", tone(2.0), 48000)
    sample = {"id": "ab12cd34", "raw_lyrics": "", "formatted_lyrics": "", "bpm": None, "keyscale": "",
              "timesignature": "", "duration": 2, "language": "unknown", "is_instrumental": True,
              "custom_tag": "zz", "labeled": True, "lyrics": "[Instrumental]"}
    data = {"metadata": {"name": "theirs", "custom_tag": "zz", "tag_position": "prepend", "created_at": "2026-01-01",
                         "num_samples": 2, "all_instrumental": True, "genre_ratio": genre_ratio},
            "samples": [{**sample, "audio_path": str(folder / "a.wav"), "filename": "a.wav", "caption": "cap a",
                         "genre": "techno", "prompt_override": "genre"},
                        {**sample, "audio_path": str(folder / "b.wav"), "filename": "b.wav", "caption": "cap b",
                         "genre": "house", "prompt_override": None}]}
    (folder / "dataset.json").write_text(json.dumps(data))
    return folder / "dataset.json"


def test_acestep_builder_dataset_imports_with_percent_ratio_and_overrides(tmp_path):
    meta, samples = load_dataset(acestep_dataset(tmp_path))
    assert meta.genre_ratio == pytest.approx(0.30) and meta.extra["all_instrumental"] is True
    assert [s.prompt_override for s in samples] == ["genre", None]
    always_genre = {training_caption(samples[0], meta.custom_tag, meta.tag_position, 0.0, random.Random(i))
                    for i in range(20)}
    assert always_genre == {"zz, techno"}  # the override wins over a 0 % ratio
    save_dataset(tmp_path / "ours.json", meta, samples)
    written = json.loads((tmp_path / "ours.json").read_text())
    assert written["metadata"]["genre_ratio"] == 0.3 and written["samples"][0]["prompt_override"] == "genre"
    meta2, samples2 = load_dataset(tmp_path / "ours.json")
    assert meta2.genre_ratio == pytest.approx(0.3) and samples2[0].prompt_override == "genre"


def test_our_full_ratio_is_not_read_as_one_percent(tmp_path):
    save_dataset(tmp_path / "d.json", DatasetMeta("x", genre_ratio=1), [])
    assert load_dataset(tmp_path / "d.json")[0].genre_ratio == 1.0
    path = acestep_dataset(tmp_path, genre_ratio=250)
    with pytest.raises(ValueError, match=r"dataset.json: metadata.genre_ratio must be 0-100 %"):
        load_dataset(path)


def test_unknown_override_and_wrong_types(tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(2.0), 48000)
    (tmp_path / "d.json").write_text(json.dumps({"samples": [{"audio_path": "a.wav", "prompt_override": "lyrics"}]}))
    [sample] = load_dataset(tmp_path / "d.json")[1]  # another tool's meaning of the key: kept out, said so
    assert sample.prompt_override is None and "prompt_override 'lyrics' is neither" in sample.notes[0]
    (tmp_path / "d.json").write_text(json.dumps({"samples": [{"audio_path": "a.wav", "caption": ["a", "b"]}]}))
    with pytest.raises(ValueError, match=r"d.json: sample 0 \(a.wav\): caption must be text, got list"):
        load_dataset(tmp_path / "d.json")
    (tmp_path / "a.json").write_text(json.dumps({"caption": {"x": 1}, "genre": "rock", "is_instrumental": [1]}))
    [sample] = scan_folder(tmp_path)
    assert sample.caption == "" and sample.genre == "rock" and not sample.is_instrumental
    assert any("caption must be text" in n for n in sample.notes)
    assert any("is_instrumental must be true or false" in n for n in sample.notes)


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_acestep_builder_csv_columns(tmp_path, sep):
    soundfile.write(tmp_path / "a.wav", tone(2.0), 48000)
    rows = [["File", "Artist", "BPM", "Key", "Caption"], ["a.wav", "someone", "126.0", "F# minor", "dark techno"]]
    (tmp_path / "meta.csv").write_text("\n".join(sep.join(r) for r in rows) + "\n")
    [sample] = scan_folder(tmp_path, ScanOptions(csv_path=tmp_path / "meta.csv"))
    assert (sample.caption, sample.bpm, sample.keyscale) == ("dark techno", 126, "F# minor")
