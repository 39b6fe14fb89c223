"""ACE-Step captioner / transcriber backends on a tiny Qwen2.5-Omni thinker built offline."""

from __future__ import annotations

import json

import pytest
import soundfile

from captioner.backend import load_audio
from captioner.batch import caption_folder
from captioner.omni_backend import AceStepOmni
from audio_fixtures import tone
from tiny_omni import write_tiny_omni


@pytest.fixture(scope="module")
def omni_dir(tmp_path_factory):
    return write_tiny_omni(tmp_path_factory.mktemp("omni"))


def test_a_40_second_song_is_not_cut_at_30(omni_dir, tmp_path):
    soundfile.write(tmp_path / "long.wav", tone(40.0, rate=16000), 16000)
    backend = AceStepOmni(omni_dir, "captioner", device="cpu")
    inputs = backend.prepare(load_audio(tmp_path / "long.wav"))
    assert int(inputs["feature_attention_mask"].sum()) == 4000  # 40 s of 10 ms frames, all of them
    backend.unload()
    assert backend.model is None


def test_batch_with_captioner_and_transcriber(omni_dir, tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(3.0), 48000)
    backends = [AceStepOmni(omni_dir, "captioner", device="cpu"), AceStepOmni(omni_dir, "transcriber", device="cpu")]
    summary = caption_folder(tmp_path, backends)
    assert not summary.failed and summary.done == ["a.wav"]
    assert json.loads((tmp_path / "a.json").read_text())["filename"] == "a.wav"


def test_missing_model_names_the_repo(tmp_path):
    with pytest.raises(FileNotFoundError, match="ACE-Step/acestep-transcriber"):
        AceStepOmni(tmp_path, "transcriber")


def test_download_from_the_official_repo_name(omni_dir, tmp_path):
    from captioner.download import download_model
    from hub_standin import HubStandIn

    with HubStandIn({"ACE-Step/acestep-captioner": omni_dir}) as hub:
        folder = download_model("captioner", tmp_path / "cap", endpoint=hub.url)
    assert AceStepOmni(folder, "captioner").model_dir == folder
    with HubStandIn({}) as hub:
        dead = hub.url
    with pytest.raises(RuntimeError, match="could not download ACE-Step/acestep-transcriber"):
        download_model("transcriber", tmp_path / "tr", endpoint=dead)
