"""Every sidecar form, CSV, dataset.json round trip and import, tags and edit protection."""

from __future__ import annotations

import csv
import json
import random

import pytest
import soundfile

from acestep_train.dataset import DatasetMeta, Sample, ScanOptions, load_dataset, save_dataset, scan_folder
from acestep_train.dataset import provenance
from acestep_train.dataset.csv_io import read_csv, write_csv
from acestep_train.dataset.provenance import Policy
from acestep_train.dataset.record import apply_tag, song_text, training_caption
from acestep_train.dataset.sidecars import write_sidecar
from audio_fixtures import tone


@pytest.fixture
def folder(tmp_path):
    for name in ("a", "b", "c", "d", "e"):
        soundfile.write(tmp_path / f"{name}.wav", tone(1.5), 48000)
    (tmp_path / "a.json").write_text(json.dumps({
        "filename": "a.wav", "caption": "json caption", "genre": "synthwave", "bpm": "118.6", "keyscale": "A minor",
        "timesignature": "4/4", "lyrics": "[Verse]\nhi", "language": "ja", "is_instrumental": "false",
        "duration": 99, "custom_tag": "tagA"}))
    (tmp_path / "a.caption.txt").write_text("loses to the json caption")
    (tmp_path / "b.caption.txt").write_text("caption from txt")
    (tmp_path / "b.lyrics.txt").write_text("[Chorus]\nlyrics from lyrics.txt")
    (tmp_path / "c.lyrics").write_text("lyrics from .lyrics")
    (tmp_path / "d.txt").write_text("plain txt")
    return tmp_path


def by_name(samples):
    return {s.audio_path.stem: s for s in samples}


def test_every_sidecar_form(folder):
    samples = by_name(scan_folder(folder))
    a = samples["a"]
    assert (a.caption, a.genre, a.bpm, a.keyscale, a.timesignature) == ("json caption", "synthwave", 119, "A minor", "4")
    assert (a.lyrics, a.language, a.is_instrumental, a.custom_tag) == ("[Verse]\nhi", "ja", False, "tagA")
    assert a.duration == pytest.approx(1.5)  # measured, not the sidecar's claim
    assert (samples["b"].caption, samples["b"].lyrics) == ("caption from txt", "[Chorus]\nlyrics from lyrics.txt")
    assert samples["c"].lyrics == "lyrics from .lyrics"
    assert samples["d"].caption == "plain txt"
    assert by_name(scan_folder(folder, ScanOptions(txt_mode="lyrics")))["d"].lyrics == "plain txt"
    assert by_name(scan_folder(folder, ScanOptions(txt_mode="ignore")))["d"].caption == ""
    assert samples["e"].labeled is False


def test_csv_fills_missing_fields_only(folder):
    (folder / "caps.csv").write_text("filename,caption,genre,bpm,keyscale,timesignature,lyrics,language\n"
                                     "a.wav,csv loses,,,,,,\ne.wav,csv caption,rock,90,E minor,3,,de\n")
    samples = by_name(scan_folder(folder, ScanOptions(csv_path=folder / "caps.csv")))
    assert samples["a"].caption == "json caption"
    e = samples["e"]
    assert (e.caption, e.genre, e.bpm, e.keyscale, e.timesignature, e.language) == (
        "csv caption", "rock", 90, "E minor", "3", "de")


def test_csv_round_trip_and_malformed_csv(folder, tmp_path):
    samples = scan_folder(folder)
    write_csv(tmp_path / "out.csv", samples)
    rows = read_csv(tmp_path / "out.csv")
    assert rows["a.wav"]["caption"] == "json caption" and rows["a.wav"]["bpm"] == "119"
    (tmp_path / "bad.csv").write_text('filename,caption\n"a.wav,"unclosed\n')
    with pytest.raises(ValueError, match="bad.csv: malformed CSV at line"):
        read_csv(tmp_path / "bad.csv")
    (tmp_path / "nofile.csv").write_text("name,caption\nx,y\n")
    with pytest.raises(ValueError, match="nofile.csv: no 'filename' column"):
        read_csv(tmp_path / "nofile.csv")


def test_write_is_atomic_with_backup_and_keeps_user_edits(folder):
    sample = by_name(scan_folder(folder))["a"]
    original = (folder / "a.json").read_text()
    guess = provenance.analysis("librosa", 0.9)
    assert sample.update({"caption": "auto caption", "bpm": 120}, guess) == []  # a hand-made sidecar is the user's
    assert (sample.caption, sample.bpm) == ("json caption", 119)
    assert sample.update({"caption": "auto caption", "bpm": 120}, guess, Policy(overwrite=True)) == ["caption", "bpm"]
    write_sidecar(sample)
    assert (folder / "a.json.bak").read_text() == original
    written = json.loads((folder / "a.json").read_text())
    assert written["caption"] == "auto caption" and written["bpm"] == 120 and written["filename"] == "a.wav"
    assert written["_provenance"]["bpm"]["source"] == "analysis" and written["_provenance"]["bpm"]["confidence"] == 0.9
    assert not list(folder.glob("*.tmp"))
    assert by_name(scan_folder(folder))["a"].caption == "auto caption"


def test_user_edit_marks_the_field():
    sample = Sample(audio_path=__import__("pathlib").Path("x.wav"))
    sample.update({"genre": "jazz"})
    assert sample.owned == ["genre"] and sample.provenance["genre"].source == "user"
    assert sample.update({"genre": "pop"}, provenance.model("acestep-captioner")) == []
    assert sample.update({"bpm": 128, "keyscale": "G major"}, provenance.imported("songs.csv")) == ["bpm", "keyscale"]
    assert sample.update({"bpm": 133, "keyscale": "A minor"}, provenance.analysis("librosa")) == []  # the user's
    assert sample.update({"bpm": 133}, provenance.analysis("librosa"), Policy(overwrite=True)) == ["bpm"]
    with pytest.raises(ValueError, match="bpm must be a number"):
        sample.update({"bpm": "fast"})
    with pytest.raises(ValueError, match="unknown sample field 'tempo'"):
        sample.update({"tempo": 1})


@pytest.mark.parametrize(("position", "expected"), [
    ("prepend", "zzband, dreamy pop"), ("append", "dreamy pop, zzband"), ("replace", "zzband")])
def test_tag_positions(position, expected):
    assert apply_tag("dreamy pop", "zzband", position) == expected
    assert apply_tag("dreamy pop", "", position) == "dreamy pop"


def test_genre_ratio_and_instrumental(tmp_path):
    sample = Sample(tmp_path / "x.wav", caption="long caption", genre="techno", is_instrumental=True)
    rng = random.Random(0)
    picks = [training_caption(sample, "tg", "prepend", 0.3, rng) for _ in range(2000)]
    assert 0.25 < picks.count("tg, techno") / len(picks) < 0.35
    assert set(picks) == {"tg, techno", "tg, long caption"}
    assert song_text(sample, "c").lyrics == "[Instrumental]"


def test_dataset_json_round_trip(folder):
    samples = scan_folder(folder)
    meta = DatasetMeta("mine", "zzband", "append", 0.2)
    save_dataset(folder / "dataset.json", meta, samples)
    data = json.loads((folder / "dataset.json").read_text())
    assert data["samples"][0]["audio_path"] == "a.wav"  # relative: the folder can move
    meta2, samples2 = load_dataset(folder / "dataset.json")
    assert (meta2.name, meta2.custom_tag, meta2.tag_position, meta2.genre_ratio) == ("mine", "zzband", "append", 0.2)
    assert [s.sidecar() for s in samples2] == [s.sidecar() for s in samples]


def test_import_another_trainers_dataset(folder):
    other = {"metadata": {"name": "theirs", "custom_tag": "x", "tag_position": "replace", "created_with": "tool"},
             "samples": [{"audio_path": str(folder / "a.wav"), "caption": "c", "bpm": 100, "prompt_override": "p",
                          "is_instrumental": True, "keyscale": "C major"},
                         {"filename": "missing.wav", "caption": "gone"}]}
    (folder / "theirs.json").write_text(json.dumps(other))
    meta, samples = load_dataset(folder / "theirs.json")
    assert meta.tag_position == "replace" and meta.extra == {"created_with": "tool"}
    assert samples[0].bpm == 100 and samples[0].is_instrumental and samples[0].usable
    assert samples[1].status == "missing audio file"
    (folder / "bad.json").write_text(json.dumps({"samples": [{"audio_path": "a.wav", "bpm": "fast"}]}))
    with pytest.raises(ValueError, match=r"bad.json: sample 0 \(a.wav\): bpm must be a number"):
        load_dataset(folder / "bad.json")


FORMULAS = ['=HYPERLINK("http://evil.example","click")', "@SUM(A1:A9)", "+1+1", "-2+3", "\tcmd", "\rcmd",
            "'=already quoted", "''@two", "it's fine", "plain"]


def test_dataset_csv_escapes_formula_cells_and_reads_them_back(tmp_path):
    samples = [Sample(tmp_path / f"s{i}.wav", caption=text, genre=text) for i, text in enumerate(FORMULAS)]
    samples.append(Sample(tmp_path / "=cmd.wav", caption="named like a formula"))
    write_csv(tmp_path / "dataset.csv", samples)
    with open(tmp_path / "dataset.csv", newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]  # nothing a sheet would run
    assert "'=HYPERLINK(\"http://evil.example\",\"click\")" in cells and "'''@two" in cells
    rows = read_csv(tmp_path / "dataset.csv")
    assert [rows[f"s{i}.wav"]["caption"] for i in range(len(FORMULAS))] == FORMULAS  # the round trip keeps them
    assert [rows[f"s{i}.wav"]["genre"] for i in range(len(FORMULAS))] == FORMULAS
    assert rows["=cmd.wav"]["caption"] == "named like a formula"
