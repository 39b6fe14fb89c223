"""A song marked for validation (CLI and Dataset tab twin): the sidecar, preprocessing's manifest, the run's split."""

from __future__ import annotations

import json

import soundfile

from acestep_train.cli import main
from acestep_train.dataset.holdout import is_held_out, set_holdout
from acestep_train.tensors import Manifest
from acestep_train.train.config import ValidationConfig
from acestep_train.train.holdout import choose_split
from audio_fixtures import tone


def songs_folder(tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    for index, name in enumerate(("one", "two", "three")):
        soundfile.write(songs / f"{name}.wav", tone(1.6, freq=200 + 50 * index), 48000)
        (songs / f"{name}.json").write_text(json.dumps({"caption": f"song {name}"}))
    return songs


def preprocess(tiny_original, songs, out) -> list[str]:
    main(["preprocess", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo", "--audio-dir", str(songs),
          "--output-dir", str(out), "--min-seconds", "1"])
    manifest = Manifest.load(out)
    return sorted(e["file"] for e in manifest.samples.values() if e.get("holdout"))


def test_the_mark_is_the_users_and_only_written_when_set(tmp_path):
    songs = songs_folder(tmp_path)
    assert set_holdout(songs / "two.wav", True) and not set_holdout(songs / "two.wav", True)
    sidecar = json.loads((songs / "two.json").read_text())
    assert sidecar["holdout"] is True and sidecar["_provenance"]["holdout"]["source"] == "user"
    assert sidecar["caption"] == "song two" and is_held_out(songs / "two.wav")
    assert set_holdout(songs / "two.wav", False) and "holdout" not in json.loads((songs / "two.json").read_text())


def test_marked_in_the_cli_carried_by_preprocessing_held_out_by_the_run(tiny_original, tmp_path, capsys):
    songs, out = songs_folder(tmp_path), tmp_path / "tensors"
    assert main(["dataset", "--audio-dir", str(songs), "--hold-out", "two.wav"]) == 0
    assert "two.wav: held out for validation" in capsys.readouterr().out
    marked = preprocess(tiny_original, songs, out)
    assert len(marked) == 1 and marked[0].startswith("two-")
    manifest = Manifest.load(out)
    files = sorted(e["file"] for e in manifest.samples.values())
    split = choose_split(files, manifest, ValidationConfig(every_steps=10))
    assert split.held_out == tuple(marked) and split.how == "marked" and len(split.train) == 2
    # Unmarked: the next preprocess re-encodes nothing and the manifest forgets the mark.
    assert main(["dataset", "--audio-dir", str(songs), "--train-on", "two.wav"]) == 0
    capsys.readouterr()
    assert preprocess(tiny_original, songs, out) == []
    assert "0 done, 3 unchanged (skipped)" in capsys.readouterr().out
