"""Captioner batches: sidecars written as they go, edits kept, crashes resumed, failures recorded; the config and CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import soundfile

from acestep_train.dataset import ScanOptions, scan_folder
from acestep_train.events import read_events
from audio_fixtures import click_track, tone
from captioner.__main__ import build_parser, config_from_args
from captioner.__main__ import main as captioner_main
from captioner.backend import CONFIDENCE, NOTES, Backend, load_audio
from captioner.batch import BatchOptions, BatchSummary, caption_folder, collect
from captioner.config import CaptionConfig
from captioner.job import passes, run_passes
from captioner.librosa_backend import LibrosaAnalysis
from captioner.omni_backend import OmniSettings

REPO = Path(__file__).resolve().parents[1]


class Fake(Backend):
    """Gives fixed fields, records what it saw; ``fail_on`` songs raise like a failing model would."""

    def __init__(self, name, fields, lyrics=False, fail_on=(), log=None):
        self.name, self.fields, self.fail_on, self.log = name, fields, fail_on, log if log is not None else []
        self.provides = tuple(fields)
        self.essential = ("lyrics",) if lyrics else ("caption",)

    def caption(self, audio):
        self.log.append((self.name, audio.path.name))
        if audio.path.stem in self.fail_on:
            raise RuntimeError(f"CUDA error on {audio.path.stem}")
        return {key: value.format(stem=audio.path.stem) if isinstance(value, str) else value
                for key, value in self.fields.items()}

    def unload(self):
        self.log.append((self.name, "unload"))


def songs(folder: Path, names=("a", "b", "c")) -> Path:
    folder.mkdir(exist_ok=True)
    for name in names:
        soundfile.write(folder / f"{name}.wav", tone(2.0), 48000)
    return folder


def sidecar(folder: Path, stem: str) -> dict:
    return json.loads((folder / f"{stem}.json").read_text())


def test_writes_as_it_goes_keeps_edits_and_resumes_after_an_interrupt(tmp_path):
    folder = songs(tmp_path / "songs")
    (folder / "b.json").write_text(json.dumps({"caption": "my own words", "edited": ["caption"]}))

    class Interrupted(Fake):
        def caption(self, audio):
            if audio.path.stem == "c":
                raise KeyboardInterrupt  # the user pressed Ctrl+C mid-batch
            return super().caption(audio)

    with pytest.raises(KeyboardInterrupt):
        caption_folder(folder, [Interrupted("cap", {"caption": "caption of {stem}"})])
    assert sidecar(folder, "a")["caption"] == "caption of a"  # written before the crash
    assert not (folder / "c.json").exists()
    summary = caption_folder(folder, [Fake("cap", {"caption": "new {stem}", "genre": "rock"})],
                             BatchOptions(only_missing=True, tag="zzq", csv_out=tmp_path / "all.csv"))
    assert summary.skipped == ["a.wav", "b.wav"] and summary.done == ["c.wav"]
    assert sidecar(folder, "b")["caption"] == "my own words" and sidecar(folder, "b")["custom_tag"] == "zzq"
    assert sidecar(folder, "c")["caption"] == "new c" and sidecar(folder, "c")["custom_tag"] == "zzq"
    assert "new c" in (tmp_path / "all.csv").read_text()
    again = caption_folder(folder, [Fake("cap", {"caption": "redo {stem}", "genre": "jazz"})],
                           BatchOptions(only_missing=False))
    assert len(again.done) == 3
    assert sidecar(folder, "b")["caption"] == "my own words" and sidecar(folder, "b")["genre"] == "jazz"


CRASHING_RUN = """
import os, sys
from captioner.backend import Backend
from captioner.batch import BatchOptions, caption_folder

class Dies(Backend):
    name, provides, essential = "dies", ("caption",), ("caption",)
    def caption(self, audio):
        if audio.path.stem == "b":
            os._exit(9)  # killed mid-song: no cleanup, no exception handlers
        return {{"caption": "done " + audio.path.stem}}

caption_folder({folder!r}, [Dies()], BatchOptions(only_missing=True))
"""


def test_a_killed_process_loses_only_the_song_in_progress(tmp_path):
    folder = songs(tmp_path / "songs")
    code = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASHING_RUN.format(folder=str(folder)))],
                          cwd=REPO, capture_output=True, text=True, timeout=120).returncode
    assert code == 9
    assert sidecar(folder, "a")["caption"] == "done a" and not (folder / "b.json").exists()
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # no half-written file
    summary = caption_folder(folder, [Fake("cap", {"caption": "resumed {stem}"})], BatchOptions(only_missing=True))
    assert summary.skipped == ["a.wav"] and summary.done == ["b.wav", "c.wav"]
    assert sidecar(folder, "a")["caption"] == "done a" and sidecar(folder, "c")["caption"] == "resumed c"


def test_failures_are_recorded_and_the_batch_goes_on(tmp_path):
    folder = songs(tmp_path / "songs")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.flac").write_text("not audio")
    backends = [Fake("first", {"caption": "first {stem}", "bpm": 90}, fail_on=("b",)),
                Fake("second", {"caption": "second {stem}", "genre": "pop", "bpm": 140, NOTES: ["was unsure"]})]
    from acestep_train.events import EventLog

    summary = caption_folder(folder, backends, events=EventLog(tmp_path / "events.jsonl"))
    assert summary.done == ["a.wav", "b.wav", "c.wav"]
    reasons = {Path(path).name: reason for path, reason in summary.failed}
    assert reasons["b.wav"] == "first: CUDA error on b"
    assert "empty" in reasons["empty.wav"] and "unreadable" in reasons["text.flac"]
    assert sidecar(folder, "a")["caption"] == "first a" and sidecar(folder, "a")["bpm"] == 90  # first listed wins
    assert sidecar(folder, "b")["caption"] == "second b" and sidecar(folder, "b")["genre"] == "pop"
    events = read_events(tmp_path / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and events[0]["total"] == 3 and events[0]["unreadable"] == 2
    assert kinds.count("progress") == 3 and kinds[-1] == "summary" and len(events[-1]["failed"]) == 3
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert "b.wav: first: CUDA error on b" in warnings and "a.wav: was unsure" in warnings


def test_two_pass_captions_all_unloads_then_transcribes(tmp_path):
    folder = songs(tmp_path / "songs", ("a", "b"))
    log = []
    backends = [Fake("captioner", {"caption": "c {stem}"}, log=log),
                Fake("transcriber", {"lyrics": "[Verse]\nla {stem}"}, lyrics=True, log=log)]
    assert [stage for stage, _ in passes(backends, True)] == ["caption", "lyrics"]
    summary = run_passes(CaptionConfig(folder, ("librosa",), two_pass=True), backends, None)
    assert log == [("captioner", "a.wav"), ("captioner", "b.wav"), ("captioner", "unload"),
                   ("transcriber", "a.wav"), ("transcriber", "b.wav"), ("transcriber", "unload")]
    assert summary.done == ["a.wav", "b.wav"] and sidecar(folder, "b")["lyrics"] == "[Verse]\nla b"


@pytest.mark.parametrize(("changes", "message"), [
    ({"backends": ()}, "backends: choose at least one"),
    ({"backends": ("librosa", "gpt")}, "backends: unknown backend 'gpt'"),
    ({"backends": ("librosa", "librosa")}, "backends: librosa, librosa names one twice"),
    ({"backends": ("whisper",)}, "whisper_dir: the whisper backend needs its model folder"),
    ({"quantize": "2bit"}, "quantize: quantize must be one of 8bit, 4bit"),
    ({"language": "Klingon"}, "language must be a language code"),
    ({"max_seconds": 0}, "max_seconds must be > 0"),
])
def test_config_errors_name_the_setting(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        CaptionConfig(tmp_path, **changes)
    with pytest.raises(FileNotFoundError, match="audio_dir: .* is not a folder"):
        CaptionConfig(tmp_path / "nowhere")


@pytest.mark.parametrize(("model_metadata", "expected"), [(False, (96, "A minor", "3")), (True, (120, "C major", "4"))])
def test_measured_metadata_wins_over_mined_unless_asked(tmp_path, model_metadata, expected):
    model = Fake("acestep-captioner", {"caption": "a waltz", "bpm": 120, "keyscale": "C major", "timesignature": "4",
                                       "genre": "pop"})
    measured = Fake("librosa", {"bpm": 96, "keyscale": "A minor", "timesignature": "3"})
    measured.measures = True
    folder = songs(tmp_path / "songs", ("a",))
    caption_folder(folder, [model, measured], BatchOptions(model_metadata=model_metadata))  # model listed first
    found = sidecar(folder, "a")
    assert (found["bpm"], found["keyscale"], found["timesignature"]) == expected
    assert found["genre"] == "pop" and found["caption"] == "a waltz"  # only the model gives these


@pytest.mark.parametrize("model_metadata", [False, True])
def test_confidence_travels_with_the_winning_value(tmp_path, model_metadata):
    model = Fake("acestep-captioner", {"caption": "a waltz", "bpm": 120, "keyscale": "C major"})
    measured = Fake("librosa", {"bpm": 96, "keyscale": "A minor", CONFIDENCE: {"bpm": 0.9, "keyscale": 0.3}})
    measured.measures = True
    folder = songs(tmp_path / "songs", ("a",))
    sample = next(iter(scan_folder(folder, ScanOptions())))
    fields = collect(sample, load_audio(folder / "a.wav"), [model, measured], BatchSummary(), model_metadata)
    if model_metadata:  # the model's values won: no measured confidence claims them
        assert fields["bpm"] == 120 and CONFIDENCE not in fields
    else:
        assert fields["bpm"] == 96 and fields[CONFIDENCE] == {"bpm": 0.9, "keyscale": 0.3}
    caption_folder(folder, [model, measured], BatchOptions(model_metadata=model_metadata))
    assert CONFIDENCE not in sidecar(folder, "a")  # not a sidecar field (ACE-Step's tools read the sidecar)


def test_download_only_needs_an_ace_step_backend_and_a_folder(tmp_path, capsys):
    assert captioner_main(["--download-only", "--backend", "librosa"]) == 2
    assert "needs --backend acestep-captioner" in capsys.readouterr().err
    assert captioner_main(["--download-only", "--backend", "acestep-captioner"]) == 2
    assert "give --captioner-dir or --model-dir" in capsys.readouterr().err
    assert captioner_main(["--backend", "librosa"]) == 2  # captioning needs the song folder
    assert "--audio-dir is required" in capsys.readouterr().err


def test_config_round_trips_through_the_command_line(tmp_path):
    config = CaptionConfig(tmp_path, ("librosa", "acestep-captioner", "gemini"), only_missing=True, tag="zzq",
                           two_pass=True, timestamps=True, events=tmp_path / "ev.jsonl", model_dir=tmp_path,
                           quantize="4bit", language="English", base_url="http://127.0.0.1:9", gemini_lyrics=True,
                           model_metadata=True, omni=OmniSettings(caption_prompt="*Task* Describe the drums"))
    assert config.language == "en" and config.model_folder("acestep-captioner") == tmp_path / "acestep-captioner"
    assert config_from_args(build_parser().parse_args(config.to_argv())) == config


def test_cli_with_librosa(tmp_path, capsys):
    soundfile.write(tmp_path / "click.wav", click_track(100, seconds=8, rate=44100), 44100)
    (tmp_path / "bad.wav").write_text("not audio")
    assert captioner_main(["--audio-dir", str(tmp_path), "--backend", "librosa"]) == 0
    assert sidecar(tmp_path, "click")["bpm"] == 100
    fields = LibrosaAnalysis().caption(load_audio(tmp_path / "click.wav"))
    assert fields["bpm"] == 100 and set(fields[CONFIDENCE]) == {"bpm", "keyscale", "timesignature"} & set(fields)
    assert all(0 < value <= 1 for value in fields[CONFIDENCE].values())
    output = capsys.readouterr().out
    assert "captioned 1, skipped 0, failed 1" in output and "bad.wav: unreadable" in output
    assert captioner_main(["--audio-dir", str(tmp_path), "--backend", "nope"]) == 2
    assert "backends: unknown backend 'nope'" in capsys.readouterr().err
    os.remove(tmp_path / "click.wav")
    assert captioner_main(["--audio-dir", str(tmp_path), "--backend", "librosa"]) == 1  # nothing could be done
