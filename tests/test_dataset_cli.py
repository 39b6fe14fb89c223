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
    assert [s["caption"] for s in data["samples"]] == ["warm tape pop", ""]


def test_dataset_command_fails_loudly_with_no_usable_audio(tmp_path):
    (tmp_path / "x.wav").write_text("not audio")
    assert main(["dataset", "--audio-dir", str(tmp_path)]) == 1
