"""The Dataset tab's edits through the handlers its buttons are wired to (issue 25): the table shows each edit
at once, a song too short to train on is unusable with the reason, a key outside A-G is refused, and an
unreadable file never gets a sidecar nor counts as captioned."""

from __future__ import annotations

import inspect
import json

import pytest
import soundfile

from app.context import AppContext
from app.errors import UserError
from app.settings import make_settings
from app.trainer import build_trainer_app
from audio_fixtures import tone
from test_app_newcomer import wired


@pytest.fixture
def tab(tmp_path):
    """(the trainer app, its song folder): two trainable songs, a 1-second one and a fake MP3."""
    roots = [str(tmp_path / "ck"), str(tmp_path / "data"), str(tmp_path / "state")]
    for root in roots:
        (tmp_path / root).mkdir(parents=True, exist_ok=True)
    ctx = AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tmp_path / "ck", tmp_path / "state")
    songs = tmp_path / "data" / "songs"
    songs.mkdir()
    for name, seconds in (("a", 10.5), ("b", 11.0), ("blip", 1.0)):
        soundfile.write(songs / f"{name}.wav", tone(seconds), 48000)
    (songs / "fake.mp3").write_bytes(b"this is text, not an MP3 " * 20)
    return build_trainer_app(ctx), songs


def call(demo, api_name: str, **values):
    """A wired handler called as an API client does: by keyword (a field left out reads as blank)."""
    handler = wired(demo, api_name).fn
    return handler(*[values.get(name) for name in inspect.signature(handler).parameters])


def rows_of(answer) -> dict:
    """The table rows of a handler's answer, by file name."""
    return {row[0]: row for row in answer[1]}


def test_scan_marks_a_song_too_short_to_train_and_split_says_why_it_made_nothing(tab, tmp_path):
    demo, songs = tab
    rows, _, summary = wired(demo, "scan").fn(str(songs), "caption")
    status = {row[0]: row[3] for row in rows}
    assert status["blip.wav"] == "too short (1.0 s < 10 s)" and status["a.wav"] == "ok"
    assert summary == "4 files: 2 usable, 2 unusable, 0 captioned"
    said = wired(demo, "split").fn(str(songs), str(tmp_path / "data" / "parts"), 10)
    assert said.startswith(f"2 segments from 2 songs in {tmp_path / 'data' / 'parts'}")
    assert f"skipped {songs / 'blip.wav'}: too short (1.0 s < 10 s)" in said


def test_every_edit_shows_in_the_table_at_once(tab):
    demo, songs = tab
    answer = call(demo, "save_sample", folder=str(songs), song="a.wav", txt_mode="caption", caption="warm tape pop", genre="",
                     bpm="", keyscale="F# minor", timesignature="", language="en", is_instrumental=False, lyrics="")
    assert answer[0].startswith("Saved a.json") and rows_of(answer)["a.wav"][2] == "warm tape pop"
    assert answer[2]["value"] == "a.wav" and answer[3].endswith("1 captioned")  # the picker stays on the song
    bulk = call(demo, "bulk_edit", folder=str(songs), txt_mode="caption", field="caption", value="dusty drums",
                                       overwrite=False, source="", song="a.wav")
    assert bulk[0].startswith("caption set on 1 songs. Left out, not usable audio: ")
    assert "fake.mp3 (unreadable" in bulk[0] and "blip.wav (too short (1.0 s < 10 s))" in bulk[0]
    assert rows_of(bulk)["b.wav"][2] == "dusty drums" and bulk[3].endswith("2 captioned")
    assert not (songs / "fake.json").exists() and not (songs / "blip.json").exists()
    (songs / "more.csv").write_text("filename,caption,genre\nb.wav,,jazz\nfake.mp3,a caption,rock\n")
    imported = call(demo, "import_captions", folder=str(songs), txt_mode="caption", field="genre", value="",
                                                 overwrite=False, source=str(songs / "more.csv"), song="a.wav")
    assert imported[0] == "1 sidecars filled from more.csv (2 rows)."
    assert json.loads((songs / "b.json").read_text())["genre"] == "jazz" and not (songs / "fake.json").exists()
    assert imported[3] == "4 files: 2 usable, 2 unusable, 2 captioned"  # fake.mp3 is never counted


def test_a_key_outside_a_to_g_and_a_missing_csv_are_refused_by_name(tab):
    demo, songs = tab
    with pytest.raises(UserError, match=r"a.wav: keyscale \(Key\): 'H major' is not a key; write a note A to G"):
        call(demo, "save_sample", folder=str(songs), song="a.wav", txt_mode="caption", caption="", genre="", bpm="", keyscale="H major",
                timesignature="", language="en", is_instrumental=False, lyrics="")
    assert not (songs / "a.json").exists()
    for good in ("Bb minor", "c# major", "E", "Ebm"):
        call(demo, "save_sample", folder=str(songs), song="a.wav", txt_mode="caption", caption="", genre="", bpm="", keyscale=good,
                timesignature="", language="en", is_instrumental=False, lyrics="")
        assert json.loads((songs / "a.json").read_text())["keyscale"] == good
    with pytest.raises(UserError, match="Import: .*nowhere.csv does not exist; name a CSV") as refused:
        call(demo, "import_captions", folder=str(songs), txt_mode="caption", field="genre", value="",
                                          overwrite=False, source=str(songs / "nowhere.csv"), song="")
    assert "Errno" not in str(refused.value)


def test_a_genre_share_outside_0_to_1_is_refused_by_name_not_clamped(tab):
    demo, songs = tab
    with pytest.raises(UserError, match="Share of songs captioned by genre: 5 is outside its range, 0 to 1"):
        call(demo, "save_dataset_json", folder=str(songs), txt_mode="caption", tag="", position="prepend", ratio=5,
             target="")
    assert not (songs / "dataset.json").exists()
    said = call(demo, "save_dataset_json", folder=str(songs), txt_mode="caption", tag="", position="prepend",
                ratio=0.5, target="")
    assert said.startswith(f"Wrote {songs / 'dataset.json'}")
