"""Preprocessing jobs: shapes, standard == two-pass, resume, bad files, manifest checks, .pt import."""

from __future__ import annotations


import numpy as np
import pytest
import soundfile
import torch

from acestep_train.events import read_events
from acestep_train.models import find_model
from acestep_train.models.fingerprint import conditioning_fingerprint
from acestep_train.models.tiny import write_demo_model
from acestep_train.preprocess.audio_input import decode_for_model
from acestep_train.preprocess.plan import PreprocessItem, PreprocessSettings
from acestep_train.preprocess.pt_import import import_pt_folder
from acestep_train.preprocess.runner import PreprocessJob
from acestep_train.prompts import SongText
from acestep_train.tensors import Manifest, TensorFormatError, read_sample


def tone(seconds: float, rate: int, freq: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.stack([np.sin(2 * np.pi * freq * t), np.sin(2 * np.pi * freq * 1.5 * t)], 1)).astype("float32")


@pytest.fixture
def songs(tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    soundfile.write(folder / "a.wav", tone(2.0, 48000, 220), 48000)
    soundfile.write(folder / "b.flac", tone(1.5, 44100, 330), 44100)  # resampled to 48 kHz
    soundfile.write(folder / "c.wav", tone(1.0, 48000, 440)[:, :1], 48000)  # mono -> stereo
    (folder / "broken.wav").write_text("this is not audio")
    soundfile.write(folder / "silent.wav", np.zeros((48000, 2), "float32"), 48000)
    return folder


def items_for(folder, captions=None):
    captions = captions or {}
    return [PreprocessItem(p.stem, p, SongText(captions.get(p.stem, f"song {p.stem}"), "[Verse]\nla", bpm=100))
            for p in sorted(folder.iterdir())]


def run(info, folder, out, **settings):
    return PreprocessJob(info, PreprocessSettings(**settings), out, decode_for_model, device="cpu").run(
        items_for(folder))


def test_tensors_shapes_dtypes_and_bad_files(tiny_original, songs, tmp_path):
    info = find_model([tiny_original], "turbo")
    summary = run(info, songs, tmp_path / "out")
    assert sorted(summary.done) == ["a", "b", "c"]
    failed = dict(summary.failed)
    assert set(failed) == {str(songs / "broken.wav"), str(songs / "silent.wav")}
    assert "not an audio file" in failed[str(songs / "broken.wav")]
    assert "digital silence" in failed[str(songs / "silent.wav")]
    sample = read_sample(tmp_path / "out" / "a.safetensors")
    assert sample.target_latents.shape == (50, 8) and sample.target_latents.dtype == torch.float32
    assert sample.context_latents.shape == (50, 16)
    assert sample.encoder_hidden_states.shape[1] == 32 and sample.encoder_attention_mask.dtype == torch.int64
    assert sample.metadata["caption"] == "song a" and sample.metadata["duration"] == "2.00"
    assert read_sample(tmp_path / "out" / "b.safetensors").frames == 37  # 1.5 s at 25 frames/s
    manifest = Manifest.load(tmp_path / "out")
    assert set(manifest.samples) == {"a", "b", "c"} and manifest.latent_channels == 8
    kinds = [event["event"] for event in read_events(tmp_path / "out" / "events.jsonl")]
    assert kinds[0] == "start" and kinds[-1] == "summary" and kinds.count("progress") == 5


def test_two_pass_writes_identical_files(tiny_original, songs, tmp_path):
    info = find_model([tiny_original], "turbo")
    run(info, songs, tmp_path / "standard")
    run(info, songs, tmp_path / "two_pass", two_pass=True)
    assert not (tmp_path / "two_pass" / ".pass1").exists()
    for name in ("a", "b", "c"):
        one, two = read_sample(tmp_path / "standard" / f"{name}.safetensors"), read_sample(
            tmp_path / "two_pass" / f"{name}.safetensors")
        for key in ("target_latents", "encoder_hidden_states", "encoder_attention_mask", "context_latents"):
            assert torch.equal(getattr(one, key), getattr(two, key)), (name, key)


def test_rerun_skips_redoes_and_removes(tiny_original, songs, tmp_path):
    info, out = find_model([tiny_original], "turbo"), tmp_path / "out"
    run(info, songs, out)
    before = (out / "a.safetensors").stat().st_mtime_ns
    again = run(info, songs, out)
    assert again.done == [] and sorted(again.skipped) == ["a", "b", "c"]
    assert (out / "a.safetensors").stat().st_mtime_ns == before
    soundfile.write(songs / "b.flac", tone(1.5, 44100, 500), 44100)  # changed audio
    (songs / "c.wav").unlink()  # removed from the dataset
    job = PreprocessJob(info, PreprocessSettings(), out, decode_for_model, device="cpu")
    third = job.run(items_for(songs, captions={"a": "a new caption"}))
    assert sorted(third.done) == ["a", "b"] and third.removed == ["c"]
    assert not (out / "c.safetensors").exists() and "c" not in Manifest.load(out).samples
    assert read_sample(out / "a.safetensors").metadata["caption"] == "a new caption"
    changed = run(info, songs, out, max_duration=1.0)  # a setting that changes the tensors
    assert sorted(changed.done) == ["a", "b"]


def test_manifest_from_another_model_is_refused(tiny_original, songs, tmp_path):
    run(find_model([tiny_original], "turbo"), songs, tmp_path / "out")
    write_demo_model(tmp_path / "other", "original", ("turbo",), seed=1)
    other = find_model([tmp_path / "other"], "turbo")
    manifest = Manifest.load(tmp_path / "out")
    manifest.check_model(conditioning_fingerprint(find_model([tiny_original], "turbo")), "tiny-turbo",
                         tmp_path / "out")
    with pytest.raises(TensorFormatError, match="made with model 'tiny-turbo'.*preprocess the songs again"):
        manifest.check_model(conditioning_fingerprint(other), other.name, tmp_path / "out")


def test_same_weights_in_either_layout_share_a_fingerprint(tiny_original, tiny_diffusers):
    assert conditioning_fingerprint(find_model([tiny_original], "turbo")) == conditioning_fingerprint(
        find_model([tiny_diffusers], "turbo"))


def test_a_crash_mid_write_leaves_no_tensor_file(tiny_original, songs, tmp_path, monkeypatch):
    import safetensors.torch

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        run(find_model([tiny_original], "turbo"), songs, tmp_path / "out")
    assert list((tmp_path / "out").glob("*.safetensors")) == []
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")] == []


class Exploit:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_pt_import_accepts_tensors_and_refuses_the_rest(tiny_original, tmp_path, capsys):
    info = find_model([tiny_original], "turbo")
    source = tmp_path / "pt"
    source.mkdir()
    good = {"target_latents": torch.randn(40, 8), "attention_mask": torch.ones(40),
            "encoder_hidden_states": torch.randn(12, 32), "encoder_attention_mask": torch.ones(1, 12),
            "context_latents": torch.randn(40, 16), "metadata": {"caption": "x", "bpm": 90}}
    torch.save(good, source / "good.pt")
    torch.save({**good, "context_latents": torch.randn(40, 9)}, source / "bad_shape.pt")
    torch.save({**good, "target_latents": torch.randn(40, 64), "context_latents": torch.randn(40, 128)},
               source / "other_model.pt")
    torch.save({"target_latents": Exploit()}, source / "exploit.pt")
    imported, refused = import_pt_folder(source, tmp_path / "out", info)
    assert len(imported) == 1 and imported[0].startswith("good-")
    reasons = {path.rsplit("/", 1)[1]: reason for path, reason in refused}
    assert "context_latents [40, 9] != [40, 16]" in reasons["bad_shape.pt"]
    assert "made for another model" in reasons["other_model.pt"]
    assert "not a plain dict of tensors" in reasons["exploit.pt"]
    assert "unpickled code ran" not in capsys.readouterr().out
    sample = read_sample(tmp_path / "out" / f"{imported[0]}.safetensors")
    assert sample.metadata["caption"] == "x" and sample.encoder_attention_mask.shape == (12,)
    assert Manifest.load(tmp_path / "out").model_fingerprint == conditioning_fingerprint(info)
