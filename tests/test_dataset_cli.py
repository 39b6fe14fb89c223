"""``dataset`` command: scan, table, dataset.json with the tag settings."""

from __future__ import annotations

import json

import soundfile

from acestep_train.cli import main
from audio_fixtures import tone


def test_dataset_command_writes_dataset_json(tmp_path, capsys):
    soundfile.write(tmp_path / "a.wav", tone(2.0), 48000)
    (tmp_path / "a.caption.txt").write_text("warm tape pop")
    (tmp_path / "broken.wav").write_text("x")
    out = tmp_path / "dataset.json"
    assert main(["dataset", "--audio-dir", str(tmp_path), "--tag", "zz", "--tag-position", "append",
                 "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "a.wav\t2.0s\tlabeled\tok" in printed and "broken.wav" in printed and "1 usable, 1 unusable" in printed
    data = json.loads(out.read_text())
    assert data["metadata"]["custom_tag"] == "zz" and data["metadata"]["tag_position"] == "append"
    assert [s["caption"] for s in data["samples"]] == ["warm tape pop"]  # the unusable song is kept out
    assert [(e["audio_path"], e["status"]) for e in data["excluded"]] == [("broken.wav", "excluded")]
    assert data["excluded"][0]["reason"]  # why, in words


def test_excluded_songs_read_back_unusable_and_preprocess_names_them(tmp_path):
    from acestep_train.dataset import load_dataset
    from acestep_train.preprocess.items import items_from_source

    soundfile.write(tmp_path / "a.wav", tone(2.0), 48000)
    (tmp_path / "a.caption.txt").write_text("warm tape pop")
    (tmp_path / "empty.wav").write_bytes(b"")
    out = tmp_path / "dataset.json"
    main(["dataset", "--audio-dir", str(tmp_path), "--output", str(out)])
    _, samples = load_dataset(out)
    unusable = [s for s in samples if not s.usable]
    assert [s.audio_path.name for s in unusable] == ["empty.wav"] and unusable[0].status != "ok"
    items, skipped = items_from_source(None, str(out), {}, "caption", min_seconds=1)
    assert [item.audio_path.name for item in items] == ["a.wav"] and skipped[0][0].endswith("empty.wav") and skipped[0][1]


def test_dataset_command_fails_loudly_with_no_usable_audio(tmp_path):
    (tmp_path / "x.wav").write_text("not audio")
    assert main(["dataset", "--audio-dir", str(tmp_path)]) == 1
