"""ACE-Step captioner / transcriber backends on a tiny Qwen2.5-Omni thinker built offline and loaded from disk."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import soundfile

from acestep_train.events import read_events
from audio_fixtures import click_track, tone
from captioner.backend import NOTES, load_audio
from captioner.config import CaptionConfig
from captioner.job import run_job
from captioner.backend import Audio
from captioner.omni_backend import (CAPTION_PROMPT, SYSTEM_PROMPT, TRANSCRIBE_PROMPT, AceStepOmni, OmniSettings,
                                      merge_windows)
from captioner.parse import trim_cut
from captioner.omni_processor import chat_template
from tiny_omni import write_tiny_omni

FAST = OmniSettings(caption_tokens=6, min_lyrics_tokens=4, tokens_per_second=0.5)
SIDECAR_KEYS = {"filename", "caption", "genre", "bpm", "keyscale", "timesignature", "lyrics", "language",
                "is_instrumental", "duration", "custom_tag", "_provenance"}


@pytest.fixture(scope="module")
def omni_dir(tmp_path_factory):
    return write_tiny_omni(tmp_path_factory.mktemp("omni"))


@pytest.fixture(scope="module")
def model_root(omni_dir, tmp_path_factory):
    """A --model-dir holding both ACE-Step models (the tiny thinker stands in for each)."""
    root = tmp_path_factory.mktemp("models")
    for name in ("acestep-captioner", "acestep-transcriber"):
        (root / name).symlink_to(omni_dir, target_is_directory=True)
    return root


def rendered_prompt(backend: AceStepOmni, inputs) -> str:
    """The prompt the model sees, its run of audio placeholder tokens folded to one."""
    text = backend.processor.tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=False)
    return re.sub(r"(<\|AUDIO\|>)+", "<|AUDIO|>", text)


def recorder(backend: AceStepOmni) -> list:
    calls, original = [], backend.generate

    def recording(samples, prompt, max_new_tokens, **options):
        calls.append({"samples": samples, "prompt": prompt, "prompt_text": rendered_prompt(
            backend, backend.prepare(samples, prompt)), "max_new_tokens": max_new_tokens, **options})
        return original(samples, prompt, max_new_tokens, **options)

    backend.generate = recording
    return calls


@pytest.mark.parametrize(("role", "task"), [("captioner", "*Task* Describe this audio in detail"),
                                            ("transcriber", "*Task* Transcribe this audio in detail")])
def test_chat_is_the_model_cards_contract(omni_dir, role, task):
    """Stock Qwen2.5-Omni system message, then one user turn as the model cards write it (``*Task* ...``,
    a line break, ``<audio>``): the task text first, then the audio; nothing else."""
    assert SYSTEM_PROMPT == ("You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
                             "perceiving auditory and visual inputs, as well as generating text and speech.")
    backend = AceStepOmni(omni_dir, role, device="cpu", settings=FAST)
    calls = recorder(backend)
    rate = 48000  # a 48 kHz song reaches the model at 16 kHz mono
    fields = backend.caption(Audio(Path("song.wav"), tone(2.0, rate=rate), rate))
    assert len(calls) == 1  # one question: no extra JSON / metadata prompt
    assert calls[0]["prompt"] == task and len(calls[0]["samples"]) == 2 * 16000
    assert calls[0]["prompt_text"] == (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
                                       f"{task}\n<|audio_bos|><|AUDIO|><|audio_eos|><|im_end|>\n"
                                       "<|im_start|>assistant\n")
    assert set(fields) <= {*backend.provides, NOTES}
    ids = backend.prepare(calls[0]["samples"], task)["input_ids"][0].tolist()  # the order in the token ids
    tokenizer = backend.processor.tokenizer
    system, user, assistant = [i for i, t in enumerate(ids) if t == tokenizer.convert_tokens_to_ids("<|im_start|>")]
    audio = ids.index(tokenizer.convert_tokens_to_ids("<|audio_bos|>"))
    assert user < audio < assistant and tokenizer.decode(ids[user:audio]) == f"<|im_start|>user\n{task}\n"


def test_task_prompt_override(omni_dir):
    settings = OmniSettings(caption_tokens=4, caption_prompt="*Task* Describe the drums only",
                            transcribe_prompt="  ")  # blank: the model card's text
    assert settings.task("transcriber") == TRANSCRIBE_PROMPT
    backend = AceStepOmni(omni_dir, "captioner", device="cpu", settings=settings)
    calls = recorder(backend)
    backend.caption(Audio(Path("song.wav"), tone(1.0, rate=16000), 16000))
    assert calls[0]["prompt"] == "*Task* Describe the drums only"
    assert ("user\n*Task* Describe the drums only\n<|audio_bos|><|AUDIO|><|audio_eos|><|im_end|>"
            in calls[0]["prompt_text"])
    assert SYSTEM_PROMPT in calls[0]["prompt_text"]


def test_a_cut_description_ends_at_its_last_sentence():
    assert trim_cut("A calm piano piece in C major. The strings ent") == "A calm piano piece in C major."
    assert trim_cut("no sentence en") == "no sentence"  # no whole sentence: the half word goes


def test_a_40_second_song_is_not_cut_at_30(omni_dir, tmp_path):
    soundfile.write(tmp_path / "long.wav", tone(40.0, rate=16000), 16000)
    backend = AceStepOmni(omni_dir, "captioner", device="cpu")
    inputs = backend.prepare(load_audio(tmp_path / "long.wav").samples, CAPTION_PROMPT)
    assert int(inputs["feature_attention_mask"].sum()) == 4000  # 40 s of 10 ms frames, all of them
    assert backend.window() == 300
    backend.unload()
    assert backend.model is None and not backend.loaded


def test_batch_end_to_end_writes_valid_sidecars(model_root, tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    soundfile.write(songs / "a.wav", click_track(120, seconds=5, rate=48000), 48000)
    soundfile.write(songs / "b.flac", tone(4.0), 48000)
    (songs / "broken.mp3").write_bytes(b"ID3 not really an mp3")
    config = CaptionConfig(songs, ("librosa", "acestep-captioner", "acestep-transcriber"), model_dir=model_root,
                           device="cpu", tag="zzq", events=tmp_path / "events.jsonl", csv_out=tmp_path / "all.csv",
                           two_pass=True, omni=FAST)
    summary = run_job(config)
    assert sorted(summary.done) == ["a.wav", "b.flac"]
    assert [p.rsplit("/", 1)[-1] for p, _ in summary.failed] == ["broken.mp3"]  # recorded, the batch went on
    for name in ("a", "b"):
        sidecar = json.loads((songs / f"{name}.json").read_text())
        assert set(sidecar) == SIDECAR_KEYS and sidecar["custom_tag"] == "zzq"
        assert isinstance(sidecar["caption"], str) and isinstance(sidecar["lyrics"], str)
        assert isinstance(sidecar["is_instrumental"], bool) and sidecar["duration"] > 3
    assert json.loads((songs / "a.json").read_text())["bpm"] == 120  # librosa listed first: its BPM wins
    origins = json.loads((songs / "a.json").read_text())["_provenance"]  # who wrote each value, and when
    assert origins["bpm"]["source"] == "analysis" and origins["bpm"]["by"] == "librosa"
    assert 0 <= origins["bpm"]["confidence"] <= 1 and origins["bpm"]["at"].endswith("+00:00")
    assert (origins["caption"]["source"], origins["caption"]["by"]) == ("model", "acestep-captioner")
    assert (origins["lyrics"]["source"], origins["lyrics"]["by"]) == ("model", "acestep-transcriber")
    assert origins["custom_tag"]["source"] == "user" and "duration" not in origins
    assert any("tokens" in note for _, note in summary.notes)  # a random model never ends: the cut is reported
    events = read_events(tmp_path / "events.jsonl")
    assert [e["stage"] for e in events if e["event"] == "summary"] == ["caption", "lyrics", "all"]
    assert [e["backend"] for e in events if e["event"] == "loading"] == ["acestep-captioner", "acestep-transcriber"]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 2 and progress[-1]["eta_s"] == 0
    assert "a.wav" in (tmp_path / "all.csv").read_text()


def test_long_song_is_transcribed_window_by_window(omni_dir, tmp_path):
    soundfile.write(tmp_path / "long.wav", tone(45.0, rate=16000), 16000)
    backend = AceStepOmni(omni_dir, "transcriber", device="cpu",
                          settings=OmniSettings(min_lyrics_tokens=2, tokens_per_second=0.2, window_seconds=20))
    calls = []
    original = backend.generate

    def recording(samples, prompt, max_new_tokens, **options):
        calls.append((len(samples) / 16000, prompt, max_new_tokens))
        return original(samples, prompt, max_new_tokens, **options)

    backend.generate = recording
    fields = backend.caption(load_audio(tmp_path / "long.wav"))
    assert len(calls) == 3 and all(seconds <= 20 for seconds, _, _ in calls)
    assert abs(sum(seconds for seconds, _, _ in calls) - 45.0) < 0.01  # nothing lost between windows
    assert all(prompt == TRANSCRIBE_PROMPT and budget == max(2, math.ceil(seconds * 0.2))
               for seconds, prompt, budget in calls)
    assert set(fields) <= {"lyrics", "language", "is_instrumental", NOTES}


def test_windows_merge_into_one_song():
    parts = [{"lyrics": "[Verse]\nhello", "language": "en", "is_instrumental": False},
             {"lyrics": "[Instrumental]", "is_instrumental": True},
             {"lyrics": "[Chorus]\nagain", "language": "en", "is_instrumental": False}]
    assert merge_windows(parts) == {"lyrics": "[Verse]\nhello\n\n[Chorus]\nagain", "is_instrumental": False,
                                    "language": "en"}
    assert merge_windows([{"lyrics": "[Instrumental]", "is_instrumental": True, "language": "unknown"}]) == {
        "lyrics": "[Instrumental]", "is_instrumental": True, "language": "unknown"}


def test_eight_bit_thinker(omni_dir, tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(2.0), 48000)
    backend = AceStepOmni(omni_dir, "captioner", device="cpu", quantize="8bit", settings=FAST)
    backend.load()
    assert any("Linear8bitLt" in type(m).__name__ for m in backend.model.modules())
    assert isinstance(backend.caption(load_audio(tmp_path / "a.wav")), dict)
    with pytest.raises(ValueError, match="quantize must be one of 8bit, 4bit"):
        AceStepOmni(omni_dir, "captioner", quantize="3bit")


def test_chat_template_from_the_processor_file(tmp_path):
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    assert chat_template(tmp_path, SimpleNamespace(chat_template=None)) == "{{ messages }}"
    with pytest.raises(FileNotFoundError, match="no chat template"):
        chat_template(tmp_path / "none", SimpleNamespace(chat_template=None))


def test_missing_model_names_the_repo(tmp_path):
    with pytest.raises(FileNotFoundError, match="ACE-Step/acestep-transcriber") as missing:
        AceStepOmni(tmp_path, "transcriber")
    assert "python -m captioner --download-only --backend acestep-transcriber --transcriber-dir" in str(missing.value)
    assert "..." not in str(missing.value)
    with pytest.raises(ValueError, match="captioner_dir: the acestep-captioner backend needs its model folder"):
        CaptionConfig(tmp_path, ("acestep-captioner",))


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
