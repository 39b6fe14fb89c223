"""``preprocess`` command end to end: folder or dataset.json in, tensors + summary out."""

from __future__ import annotations

import json

import soundfile

from acestep_train.cli import main
from acestep_train.jobs import EXIT_PARTIAL
from acestep_train.dataset import DatasetMeta, save_dataset, scan_folder
from acestep_train.tensors import Manifest, read_sample
from audio_fixtures import tone


def test_audio_dir_with_sidecars_tag_and_a_bad_file(tiny_original, tmp_path, capsys):
    songs = tmp_path / "songs"
    songs.mkdir()
    soundfile.write(songs / "one.wav", tone(1.6), 48000)
    (songs / "one.json").write_text(json.dumps({"caption": "glassy pads", "bpm": 90, "lyrics": "[Verse]\nla"}))
    soundfile.write(songs / "two.flac", tone(1.2, rate=44100), 44100)
    (songs / "two.caption.txt").write_text("dusty drums")
    (songs / "junk.wav").write_text("not audio")
    out = tmp_path / "tensors"
    code = main(["preprocess", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--audio-dir", str(songs), "--output-dir", str(out), "--tag", "zzq", "--two-pass",
                 "--min-seconds", "1"])  # the tiny model takes seconds-long songs
    printed = capsys.readouterr().out
    assert code == EXIT_PARTIAL  # finished, but one file skipped: never a silent "complete", never "failed"
    assert "2 done" in printed and "junk.wav: unreadable" in printed
    captions = sorted(read_sample(p).metadata["caption"] for p in out.glob("*.safetensors"))
    assert captions == ["zzq, dusty drums", "zzq, glassy pads"]
    assert len(Manifest.load(out).samples) == 2
    assert main(["preprocess", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--audio-dir", str(songs), "--output-dir", str(out), "--tag", "zzq", "--min-seconds", "1"]) == EXIT_PARTIAL
    assert "0 done, 2 unchanged (skipped)" in capsys.readouterr().out


def test_dataset_json_source(tiny_original, tmp_path, capsys):
    songs = tmp_path / "songs"
    songs.mkdir()
    soundfile.write(songs / "a.wav", tone(1.0), 48000)
    samples = scan_folder(songs)
    samples[0].update({"caption": "from the dataset editor"})
    save_dataset(songs / "dataset.json", DatasetMeta("d", "tagx", "append"), samples)
    assert main(["preprocess", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--dataset-json", str(songs / "dataset.json"), "--output-dir", str(tmp_path / "o"),
                 "--min-seconds", "1"]) == 0
    (sample_file,) = (tmp_path / "o").glob("*.safetensors")
    assert read_sample(sample_file).metadata["caption"] == "from the dataset editor, tagx"


def test_a_song_shorter_than_the_models_shortest_is_skipped_with_the_reason(tiny_original, tmp_path, capsys):
    from acestep_train.dataset.scan import TRAIN_MIN_SECONDS

    songs = tmp_path / "songs"
    songs.mkdir()
    soundfile.write(songs / "blip.wav", tone(1.0), 48000)
    soundfile.write(songs / "song.wav", tone(10.5), 48000)
    for name in ("blip", "song"):
        (songs / f"{name}.caption.txt").write_text("warm pads")
    out = tmp_path / "tensors"
    code = main(["preprocess", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--audio-dir", str(songs), "--output-dir", str(out)])
    printed = capsys.readouterr().out
    assert TRAIN_MIN_SECONDS == 10.0  # the CLI's default names the same figure
    assert code == EXIT_PARTIAL and "1 done" in printed and "blip.wav: too short (1.0 s < 10 s)" in printed
    assert [p.name.split("-")[0] for p in out.glob("*.safetensors")] == ["song"]


def test_nothing_to_do_fails_loudly(tiny_original, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["preprocess", "--checkpoint-dir", str(tiny_original), "--model-variant", "turbo",
                 "--audio-dir", str(tmp_path / "empty"), "--output-dir", str(tmp_path / "o")]) == 1
    assert "no sample was preprocessed" in capsys.readouterr().out
