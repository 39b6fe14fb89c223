"""The apps' labelling controls (issue 23), through the handlers the built apps wire (no browser): the
Auto-label tab's and the captioner's precedence, minimum confidence, language, timed lyrics and Gemini
options reach the job's command line; the Dataset editor's Save writes only the fields the user changed;
the table marks unsure measurements."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import pytest
import soundfile

from acestep_train.job_records import KINDS
from acestep_train.jobs import JobStore
from app.context import AppContext
from app.dataset_ops import TABLE
from app.errors import UserError
from app.settings import make_settings
from app.trainer import build_trainer_app
from audio_fixtures import tone
from captioner.__main__ import build_parser
from captioner.app import build_captioner_app
from captioner.backend import CONFIDENCE
from captioner.batch import BatchOptions, caption_folder
from test_captioner import Fake

ENDED = ("finished", "failed", "stopped", "broken")


@pytest.fixture
def ctx(tmp_path) -> AppContext:
    roots = [str(tmp_path / "ck"), str(tmp_path / "data"), str(tmp_path / "state")]
    (tmp_path / "data" / "songs").mkdir(parents=True)
    return AppContext(make_settings("127.0.0.1", 7861, False, None, roots, False), tmp_path / "ck", tmp_path / "state")


def call(app, api_name: str, *args, **values):
    """Run the handler an app wires under ``api_name``: with ``args`` in order, or with its inputs by name
    (a handler wired by ``wiring.named``; one left out is blank, None, as from an API client)."""
    (fn,) = [fn for fn in app.fns.values() if fn.api_name == api_name]
    if args:
        return fn.fn(*args)
    names = list(inspect.signature(fn.fn).parameters)
    return fn.fn(*(values.get(name) for name in names))


def ended(jobs: JobStore, job_id: str, seconds: float = 120):
    """Wait until the job's process has ended (it is started as soon as it is submitted)."""
    deadline = time.monotonic() + seconds
    while (job := jobs.load(job_id)).status not in ENDED:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


LABEL_OPTIONS = {"model_metadata": True, "min_confidence": 0.4, "language": "ja", "timestamps": True,
                 "gemini_lyrics": True, "gemini_model": "gemini-2.5-pro"}


@pytest.mark.parametrize(("build", "api_name", "kind", "extra"), [
    (build_trainer_app, "autolabel", "autolabel", {}),
    (build_captioner_app, "caption", "caption", {"mode": "Analyze only"}),
])
def test_label_options_reach_the_jobs_command_line(ctx, build, api_name, kind, extra):
    app, folder = build(ctx), str(ctx.data_root / "songs")
    call(app, api_name, folder=folder, backends=["librosa", "gemini"], **extra, **LABEL_OPTIONS)
    job = ended(ctx.jobs, ctx.jobs.latest(kind).id)
    assert KINDS[job.kind] == ("captioner",)  # the record names the kind; the wrapper runs `python -m captioner`
    args = build_parser().parse_args(job.args)
    assert (args.model_metadata, args.min_confidence, args.language, args.timestamps, args.gemini_lyrics,
            args.gemini_model) == (True, 0.4, "ja", True, True, "gemini-2.5-pro")
    call(app, api_name, folder=folder, backends=["librosa"], **extra)  # left blank: none of the flags
    plain = ended(ctx.jobs, ctx.jobs.latest(kind).id)
    assert plain.id != job.id and plain.status == "finished", ctx.jobs.log_tail(plain.id)
    assert not {"--model-metadata", "--min-confidence", "--language", "--timestamps", "--gemini-lyrics",
                "--gemini-model"} & set(plain.args)
    with pytest.raises(UserError, match="Language 'Klingon' is not a language code"):
        call(app, api_name, folder=folder, backends=["librosa"], language="Klingon", **extra)
    with pytest.raises(UserError, match="Minimum confidence must be between 0 and 1, not 1.5"):
        call(app, api_name, folder=folder, backends=["librosa"], min_confidence=1.5, **extra)


def studio_song(ctx: AppContext) -> Path:
    """A song the studio labelled: a measured BPM / key (one unsure), a model's caption, no lyrics."""
    folder = ctx.data_root / "songs"
    soundfile.write(folder / "a.wav", tone(2.0), 48000)
    librosa = Fake("librosa", {"bpm": 120, "keyscale": "A minor", CONFIDENCE: {"bpm": 0.3, "keyscale": 0.9}})
    librosa.measures = True
    caption_folder(folder, [librosa, Fake("acestep-captioner", {"caption": "warm pad", "genre": "ambient"})],
                   BatchOptions(only_missing=False))
    return folder


def test_dataset_editor_saves_only_what_the_user_changed(ctx):
    app = build_trainer_app(ctx)
    folder = studio_song(ctx)
    opened = call(app, "open_sample", str(folder), "a.wav", "caption")
    shown, loaded = dict(zip(("caption", "genre", "bpm", "keyscale", "timesignature", "language", "is_instrumental",
                              "lyrics"), opened[1:9])), opened[9]
    assert shown["lyrics"] == "" and shown["bpm"] == 120
    # meanwhile a transcription job fills the lyrics the editor shows empty
    caption_folder(folder, [Fake("acestep-transcriber", {"lyrics": "[Verse 1]\nhello"}, lyrics=True)],
                   BatchOptions(only_missing=True))
    note = call(app, "save_sample", folder=str(folder), song="a.wav", txt_mode="caption",
                **{**shown, "caption": "warm pad, my words"}, loaded=loaded)[0]  # then the table shown again
    assert note == "Saved a.json (caption)."
    found = json.loads((folder / "a.json").read_text())
    assert found["caption"] == "warm pad, my words" and found["lyrics"] == "[Verse 1]\nhello"  # not cleared
    origins = {name: origin["source"] for name, origin in found["_provenance"].items()}
    assert origins == {"caption": "user", "genre": "model", "bpm": "analysis", "keyscale": "analysis",
                       "lyrics": "model"}
    # no editor snapshot (an API client that never opened the song): compared with the sidecar on disk
    on_disk = {**shown, "caption": "warm pad, my words", "lyrics": "[Verse 1]\nhello", "genre": "drone"}
    assert call(app, "save_sample", folder=str(folder), song="a.wav", txt_mode="caption",
                **on_disk)[0] == "Saved a.json (genre)."
    with pytest.raises(UserError, match="a.wav: bpm must be a number"):
        call(app, "save_sample", folder=str(folder), song="a.wav", txt_mode="caption", **{**on_disk, "bpm": "fast"})


def test_the_table_marks_unsure_measurements(ctx):
    app = build_trainer_app(ctx)
    folder = studio_song(ctx)
    rows, _, _ = call(app, "scan", str(folder), "caption")
    row = dict(zip(TABLE, rows[0]))
    assert (row["file"], row["bpm"], row["key"], row["meter"]) == ("a.wav", "120 (low)", "A minor", "")
