"""The splitter: N-second segments, short tails dropped, sidecars carried over."""

from __future__ import annotations

import json

import soundfile

from acestep_train.cli import main
from audio_fixtures import tone


def test_split_lengths_tails_and_sidecars(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    soundfile.write(src / "long.wav", tone(75.0, rate=16000), 16000)  # 30 + 30 + 15 (kept: >= 10 s)
    soundfile.write(src / "short_tail.mp3", tone(65.0, rate=16000), 16000, format="MP3")  # 30 + 30 + 5 dropped
    (src / "long.json").write_text(json.dumps({"caption": "cap", "bpm": 100, "lyrics": "all the words",
                                               "genre": "ambient"}))
    assert main(["split", "--audio-dir", str(src), "--output-dir", str(tmp_path / "out"), "--seconds", "30"]) == 0
    out = tmp_path / "out"
    lengths = {p.name: soundfile.info(p).duration for p in sorted(out.glob("*.*")) if p.suffix != ".json"}
    assert set(lengths) == {"long_part01.wav", "long_part02.wav", "long_part03.wav",
                            "short_tail_part01.flac", "short_tail_part02.flac"}
    assert abs(lengths["long_part01.wav"] - 30) < 0.01 and abs(lengths["long_part03.wav"] - 15) < 0.01
    sidecar = json.loads((out / "long_part02.json").read_text())
    assert (sidecar["caption"], sidecar["bpm"], sidecar["genre"], sidecar["lyrics"]) == ("cap", 100, "ambient", "")
    assert sidecar["filename"] == "long_part02.wav" and abs(sidecar["duration"] - 30) < 0.01
    assert "5 segments from 2 songs" in capsys.readouterr().out
