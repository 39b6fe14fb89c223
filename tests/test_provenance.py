"""Who wrote each sidecar value (issue 23): the user's values survive auto-labelling, the studio's own are
replaced by a newer run or a better source, Overwrite replaces anything, a reload never turns the studio's
caption into a user edit, low-confidence measurements are skipped when asked, and the sidecar stays in
ACE-Step's schema with one extra ``_provenance`` key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile

from acestep_train.dataset import ScanOptions, scan_folder, write_sidecar
from acestep_train.dataset.provenance import Origin, Policy, may_write
from acestep_train.dataset.record import SIDECAR_FIELDS, STUDIO_FIELDS
from acestep_train.events import EventLog, read_events
from audio_fixtures import click_track
from captioner.__main__ import main as captioner_main
from captioner.backend import CONFIDENCE
from captioner.batch import BatchOptions, caption_folder
from test_captioner import Fake

SCHEMA = {*SIDECAR_FIELDS, "_provenance"} - set(STUDIO_FIELDS)  # ACE-Step's keys, and one more its tools ignore
# (the studio's own keys, e.g. a validation mark, are written only when set)
TYPED = {"caption": "slow waltz, felt piano", "lyrics": "[Verse 1]\nmy own words", "bpm": 90, "keyscale": "D major",
         "timesignature": "3"}


def sidecar(folder: Path, stem: str) -> dict:
    return json.loads((folder / f"{stem}.json").read_text())


def song(folder: Path, stem: str, bpm: float = 120) -> Path:
    folder.mkdir(exist_ok=True)
    soundfile.write(folder / f"{stem}.wav", click_track(bpm, seconds=8, rate=44100), 44100)
    return folder


def sample_of(folder: Path, stem: str):
    return next(s for s in scan_folder(folder, ScanOptions()) if s.audio_path.stem == stem)


def measured(fields: dict, confidence: dict | None = None) -> Fake:
    backend = Fake("librosa", {**fields, **({CONFIDENCE: confidence} if confidence else {})})
    backend.measures = True
    return backend


def test_hand_made_sidecar_survives_librosa_autolabel(tmp_path, capsys):
    folder = song(song(tmp_path / "songs", "mine"), "fresh")
    (folder / "mine.json").write_text(json.dumps(TYPED))  # typed by hand: no provenance, no edited list
    assert captioner_main(["--audio-dir", str(folder), "--backend", "librosa"]) == 0
    assert "captioned 2" in capsys.readouterr().out
    mine, fresh = sidecar(folder, "mine"), sidecar(folder, "fresh")
    assert {key: mine[key] for key in TYPED} == TYPED  # the 90 BPM / D major / 3 the user typed stand
    assert set(mine) == SCHEMA and set(fresh) == SCHEMA
    assert {mine["_provenance"][key]["source"] for key in TYPED} == {"user"}
    assert mine["_provenance"]["bpm"]["by"] == "mine.json"
    assert fresh["bpm"] == 120 and fresh["_provenance"]["bpm"]["source"] == "analysis"  # the run did measure
    assert 0 <= fresh["_provenance"]["bpm"]["confidence"] <= 1


def test_overwrite_replaces_even_the_users_values(tmp_path):
    folder = song(tmp_path / "songs", "mine")
    (folder / "mine.json").write_text(json.dumps(TYPED))
    assert captioner_main(["--audio-dir", str(folder), "--backend", "librosa", "--overwrite"]) == 0
    mine = sidecar(folder, "mine")
    assert mine["bpm"] == 120 and mine["_provenance"]["bpm"]["source"] == "analysis"
    assert mine["caption"] == TYPED["caption"]  # the analysis gives no caption: nothing to replace it with


def test_studio_values_give_way_to_a_newer_run_and_the_chosen_source(tmp_path):
    folder = song(tmp_path / "songs", "a")
    caption_folder(folder, [measured({"bpm": 96, "keyscale": "A minor"}, {"bpm": 0.8, "keyscale": 0.7})],
                   BatchOptions(only_missing=False))
    model = Fake("acestep-captioner", {"caption": "first words", "bpm": 77, "keyscale": "C major"})
    caption_folder(folder, [model], BatchOptions(only_missing=False))  # default precedence: the analysis wins
    found = sidecar(folder, "a")
    assert (found["bpm"], found["keyscale"], found["caption"]) == (96, "A minor", "first words")
    caption_folder(folder, [model], BatchOptions(only_missing=False, model_metadata=True))  # the user chose the model
    found = sidecar(folder, "a")
    assert (found["bpm"], found["_provenance"]["bpm"]["source"], found["_provenance"]["bpm"]["by"]) == (
        77, "model", "acestep-captioner")
    caption_folder(folder, [Fake("acestep-captioner", {"caption": "second words"})], BatchOptions(only_missing=False))
    assert sidecar(folder, "a")["caption"] == "second words"  # a newer run of the same source
    caption_folder(folder, [measured({"bpm": 98}, {"bpm": 0.9})], BatchOptions(only_missing=False))
    assert sidecar(folder, "a")["bpm"] == 98  # back to the default precedence: the measurement wins again


def test_a_reload_and_a_second_run_never_make_the_studios_caption_a_user_edit(tmp_path):
    folder = song(tmp_path / "songs", "a")
    caption_folder(folder, [Fake("acestep-captioner", {"caption": "take one", "lyrics": "[Verse]\nla"})],
                   BatchOptions(only_missing=False))
    reloaded = sample_of(folder, "a")
    assert reloaded.owned == [] and reloaded.provenance["caption"].source == "model"
    write_sidecar(reloaded)  # a save of the reloaded song (as the Dataset tab's bulk edit does) changes no owner
    caption_folder(folder, [Fake("acestep-captioner", {"caption": "take two", "lyrics": "[Verse]\nla la"})],
                   BatchOptions(only_missing=False))
    found = sidecar(folder, "a")
    assert (found["caption"], found["lyrics"]) == ("take two", "[Verse]\nla la")
    assert {origin["source"] for origin in found["_provenance"].values()} == {"model"}
    assert "edited" not in found


def test_min_confidence_skips_unsure_measurements_and_says_why(tmp_path):
    folder = song(tmp_path / "songs", "a")
    events = tmp_path / "events.jsonl"
    summary = caption_folder(folder, [measured({"bpm": 96, "keyscale": "A minor", "timesignature": "3"},
                                               {"bpm": 0.2, "keyscale": 0.9, "timesignature": 0.45})],
                             BatchOptions(only_missing=False, min_confidence=0.5), EventLog(events))
    found = sidecar(folder, "a")
    assert found["bpm"] is None and found["timesignature"] == "" and found["keyscale"] == "A minor"
    assert found["_provenance"]["keyscale"]["confidence"] == 0.9
    said = [note for _, note in summary.notes]
    assert "bpm 96 from librosa not written: confidence 0.20 is below the minimum 0.50" in said
    assert any(note.startswith("timesignature 3 from librosa not written: confidence 0.45") for note in said)
    warnings = [e["message"] for e in read_events(events) if e["event"] == "warning"]
    assert "a.wav: bpm 96 from librosa not written: confidence 0.20 is below the minimum 0.50" in warnings


def test_an_unsure_measurement_leaves_the_field_to_the_model(tmp_path):
    folder = song(tmp_path / "songs", "a")
    model = Fake("acestep-captioner", {"caption": "waltz", "bpm": 84})
    caption_folder(folder, [measured({"bpm": 168}, {"bpm": 0.3}), model],
                   BatchOptions(only_missing=False, min_confidence=0.5))
    found = sidecar(folder, "a")
    assert found["bpm"] == 84 and found["_provenance"]["bpm"]["by"] == "acestep-captioner"


def test_min_confidence_through_the_cli_with_real_analysis(tmp_path, capsys):
    folder = song(tmp_path / "songs", "a")
    assert captioner_main(["--audio-dir", str(folder), "--backend", "librosa", "--min-confidence", "1"]) == 0
    output = capsys.readouterr().out
    found = sidecar(folder, "a") if (folder / "a.json").exists() else {"_provenance": {}}  # nothing sure: no file
    for name in ("bpm", "keyscale", "timesignature"):  # each is written only when fully sure, else the log says so
        origin = found["_provenance"].get(name)
        assert (origin is not None and origin["confidence"] == 1.0) or (
            found.get(name) in (None, "") and f"note: a.wav: {name} " in output and "below the minimum 1.00" in output)
    assert captioner_main(["--audio-dir", str(folder), "--min-confidence", "2"]) == 2
    assert "min_confidence must be between 0 and 1" in capsys.readouterr().err


def test_an_old_edited_list_reads_as_the_users_and_is_written_as_provenance(tmp_path):
    folder = song(tmp_path / "songs", "a")
    (folder / "a.json").write_text(json.dumps({"filename": "a.wav", "caption": "studio caption", "genre": "rock",
                                               "bpm": 100, "language": "en", "edited": ["genre"]}))
    sample = sample_of(folder, "a")
    assert sample.owned == ["genre"]
    assert sample.provenance["caption"].source == "model" and "language" not in sample.provenance  # a default
    write_sidecar(sample)
    written = sidecar(folder, "a")
    assert set(written) == SCHEMA and written["_provenance"]["genre"]["source"] == "user"
    caption_folder(folder, [measured({"bpm": 120})], BatchOptions(only_missing=False))
    assert sidecar(folder, "a")["bpm"] == 120 and sidecar(folder, "a")["genre"] == "rock"


def test_text_sidecars_and_csv_are_imports(tmp_path):
    folder = song(tmp_path / "songs", "a")
    (folder / "a.caption.txt").write_text("caption from a text file")
    (folder / "songs.csv").write_text("filename,genre,bpm\na.wav,jazz,101\n")
    sample = next(iter(scan_folder(folder, ScanOptions(csv_path=folder / "songs.csv"))))
    origins = {name: (o.source, o.by) for name, o in sample.provenance.items()}
    assert origins == {"caption": ("import", "a.caption.txt"), "genre": ("import", "songs.csv"),
                       "bpm": ("import", "songs.csv")}
    assert sample.update({"bpm": 120, "caption": "model words"}, Origin("model", "gemini", "")) == []


@pytest.mark.parametrize(("current", "incoming", "policy", "field", "allowed"), [
    ("user", "model", Policy(), "caption", False),
    ("import", "analysis", Policy(), "bpm", False),
    ("user", "analysis", Policy(overwrite=True), "bpm", True),
    ("analysis", "model", Policy(), "bpm", False),
    ("analysis", "model", Policy(prefer_model=True), "bpm", True),
    ("model", "analysis", Policy(), "bpm", True),
    ("model", "analysis", Policy(prefer_model=True), "bpm", False),
    ("model", "model", Policy(), "caption", True),
    ("analysis", "analysis", Policy(), "keyscale", True),
    ("model", "user", Policy(), "caption", True),
    ("analysis", "import", Policy(), "bpm", True),
    ("user", "import", Policy(), "bpm", False),
])
def test_the_one_rule(current, incoming, policy, field, allowed):
    def origin(source):
        return Origin(source, source, "2026-12-07T00:00:00+00:00")

    assert may_write(field, origin(current), False, origin(incoming), policy) is allowed
    assert may_write(field, origin(current), True, origin(incoming), policy)  # an empty field may always be filled
    assert may_write(field, None, False, origin(incoming), policy)  # a default nobody wrote


def test_bad_provenance_entries_are_noted_not_fatal(tmp_path):
    folder = song(tmp_path / "songs", "a")
    (folder / "a.json").write_text(json.dumps({"caption": "c", "bpm": 90, "_provenance": {
        "caption": {"source": "oracle", "by": "x", "at": ""}, "bpm": {"source": "analysis", "by": "librosa",
                                                                    "at": "", "confidence": 7}}}))
    sample = sample_of(folder, "a")
    assert any("_provenance.caption: source must be one of" in note for note in sample.notes)
    assert any("_provenance.bpm: confidence must be between 0 and 1" in note for note in sample.notes)
    assert sample.owned == ["bpm", "caption"]  # unreadable provenance: the values count as the user's
