"""Song folders as a careless or hostile user leaves them: symlinked songs (target inside the roots,
outside them, no roots set), a dataset.json in another folder, a sidecar nested 100,000 levels deep
and one of 20 MB beside good songs. One bad song never stops a scan, an Open, an export or a
preprocessing run; the bad file is named; Scan and preprocess give the same verdict."""

from __future__ import annotations

import json
import tracemalloc

import pytest
import soundfile
from audio_fixtures import tone

from acestep_train.cli import main
from acestep_train.dataset import DatasetMeta, load_dataset, save_dataset, scan_folder
from acestep_train.dataset.record import Sample
from acestep_train.dataset.sidecars import apply_sidecars
from acestep_train.jobs import EXIT_PARTIAL
from acestep_train.paths import OUTSIDE_LINK, ROOTS_ENV
from acestep_train.tensors import Manifest, read_sample
from app import dataset_ops as ops
from app.context import AppContext
from app.forms import DatasetJsonForm
from app.settings import make_settings

BIG = 20 * 1024 * 1024


@pytest.fixture
def songs(tmp_path, monkeypatch):
    """root/songs: a good song, a link to a song elsewhere in the root, a link out of the root, a song whose
    sidecar is nested 100,000 deep and one whose sidecar is 20 MB. The roots are set as the studio sets them."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    folder, elsewhere = root / "songs", root / "elsewhere"
    for path in (folder, elsewhere, outside):
        path.mkdir(parents=True)
    soundfile.write(folder / "good.wav", tone(10.2), 48000)
    (folder / "good.json").write_text(json.dumps({"caption": "good song"}))
    soundfile.write(elsewhere / "real.wav", tone(10.3), 48000)
    (folder / "inlink.wav").symlink_to(elsewhere / "real.wav")
    (folder / "inlink.json").write_text(json.dumps({"caption": "linked song"}))
    soundfile.write(outside / "secret.wav", tone(10.4), 48000)
    (folder / "outlink.wav").symlink_to(outside / "secret.wav")
    (folder / "outlink.json").write_text(json.dumps({"caption": "outside song"}))
    soundfile.write(folder / "nested.wav", tone(10.2), 48000)
    (folder / "nested.json").write_text('{"caption": ' + "[" * 100_000 + "]" * 100_000 + "}")
    soundfile.write(folder / "big.wav", tone(10.2), 48000)
    with open(folder / "big.json", "w") as handle:
        handle.write('{"caption": "' + "a" * BIG + '"}')
    monkeypatch.setenv(ROOTS_ENV, str(root))
    return folder


def verdicts(samples: list[Sample]) -> dict[str, str]:
    return {sample.audio_path.name: sample.status for sample in samples}


def test_scan_follows_links_inside_skips_links_outside_and_names_bad_sidecars(songs):
    samples = {s.audio_path.name: s for s in scan_folder(songs)}
    status = verdicts(samples.values())
    assert status["good.wav"] == "ok" and samples["good.wav"].caption == "good song"
    assert status["inlink.wav"] == "ok" and samples["inlink.wav"].caption == "linked song"  # named by the link
    assert samples["inlink.wav"].audio_path == songs / "inlink.wav"
    assert status["outlink.wav"] == OUTSIDE_LINK and samples["outlink.wav"].caption == ""  # its sidecar unread
    assert "nested.json" in status["nested.wav"] and "too deeply nested" in status["nested.wav"]
    assert "big.json" in status["big.wav"] and "over the 16 MB limit" in status["big.wav"]


def test_an_oversized_sidecar_is_refused_before_it_is_read(songs):
    apply_sidecars(Sample(songs / "good.wav"))  # any first-call imports happen before the measurement
    sample = Sample(songs / "big.wav")
    tracemalloc.start()
    try:
        apply_sidecars(sample)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not sample.usable and peak < BIG // 10  # 20 MB never came into memory


def test_no_roots_set_links_are_followed(songs, monkeypatch):
    monkeypatch.delenv(ROOTS_ENV)
    status = verdicts(scan_folder(songs))
    assert status["outlink.wav"] == "ok" and status["inlink.wav"] == "ok"


def preprocess(checkpoints, source_flag: str, source, out) -> int:
    return main(["preprocess", "--checkpoint-dir", str(checkpoints), "--model-variant", "turbo",
                 source_flag, str(source), "--output-dir", str(out)])


def test_preprocess_keeps_going_and_says_the_same_as_scan(songs, tiny_original, tmp_path, capsys):
    out = tmp_path / "root" / "tensors"
    assert preprocess(tiny_original, "--audio-dir", songs, out) == EXIT_PARTIAL
    printed = capsys.readouterr().out
    assert "2 done" in printed and "not in the subpath" not in printed
    for name, status in verdicts(scan_folder(songs)).items():
        if status != "ok":
            assert f"failed: {songs / name}: {status}" in printed  # the scan's verdict, word for word
    sources = sorted(entry["source"] for entry in Manifest.load(out).samples.values())
    assert sources == [str(songs / "good.wav"), str(songs / "inlink.wav")]
    captions = sorted(read_sample(p).metadata["caption"] for p in out.glob("*.safetensors"))
    assert captions == ["good song", "linked song"]
    assert any(p.name.startswith("inlink-") for p in out.glob("*.safetensors"))


def test_preprocess_with_no_roots_follows_every_link(songs, tiny_original, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ROOTS_ENV)
    for name in ("nested", "big"):
        (songs / f"{name}.wav").unlink()
    assert preprocess(tiny_original, "--audio-dir", songs, tmp_path / "t") == 0
    assert "3 done" in capsys.readouterr().out


def test_a_dataset_json_in_another_folder_inside_the_roots(songs, tiny_original, tmp_path, capsys):
    lists = songs.parent / "lists"
    lists.mkdir()
    save_dataset(lists / "dataset.json", DatasetMeta("d"), scan_folder(songs))
    _, samples = load_dataset(lists / "dataset.json")
    assert "outside the folders this studio serves" in verdicts(samples)["outlink.wav"]
    assert samples[[s.audio_path.name for s in samples].index("inlink.wav")].usable  # named by the link
    assert preprocess(tiny_original, "--dataset-json", lists / "dataset.json", tmp_path / "root" / "t") == EXIT_PARTIAL
    printed = capsys.readouterr().out
    assert "2 done" in printed and "nested.json" in printed and "big.json" in printed


def test_the_dataset_tab_scans_opens_and_exports_around_the_bad_songs(songs):
    root = songs.parent
    ctx = AppContext(make_settings("127.0.0.1", 7861, False, None, [str(root)], False), root / "ck", root)
    rows, _, summary = ops.scan(ctx, str(songs), "caption")
    assert len(rows) == 5 and summary.startswith("5 files: 2 usable, 3 unusable")
    assert ops.open_sample(ctx, str(songs), "good.wav", "caption")[1] == "good song"
    assert ops.open_sample(ctx, str(songs), "inlink.wav", "caption")[1] == "linked song"
    with pytest.warns(UserWarning, match="nested.json: JSON too deeply nested"):  # opens, the bad file named
        assert ops.open_sample(ctx, str(songs), "nested.wav", "caption")[1] == ""
    with pytest.raises(Exception, match="outside the folders"):
        ops.open_sample(ctx, str(songs), "outlink.wav", "caption")
    answer = ops.save_json(ctx, DatasetJsonForm.of({"folder": str(songs), "target": "", "tag": "", "position":
                                                    "prepend", "ratio": 0.0, "txt_mode": "caption"}))
    assert "5 songs" in answer
    written = json.loads((songs / "dataset.json").read_text())
    assert sorted(s["caption"] for s in written["samples"]) == ["good song", "linked song"]
    reasons = {e["audio_path"]: e["reason"] for e in written["excluded"]}
    assert "too deeply nested" in reasons["nested.wav"] and "16 MB" in reasons["big.wav"]
    assert reasons["outlink.wav"] == OUTSIDE_LINK
    assert "outside song" not in (songs / "dataset.csv").read_text()
