"""Scores on the listening bench with a tiny random-init CLAP (``tests/tiny_clap.py``) loaded from disk
through the bench's own loader: style similarity, prompt adherence, KAD per checkpoint; the cache; the
CLI twin; what the bench says without CLAP; the scores recorded in the favourite's export."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from acestep_train.cli import main
from acestep_train.compare.choose import cell_scores, export_choice, mark_favourite
from acestep_train.compare.clap import ClapEmbedder, windows
from acestep_train.compare.render import load_pipeline, render_grid, slug
from acestep_train.compare.scores import score_bench
from acestep_train.compare.spec import GridSpec, PromptSpec
from acestep_train.export.load import load_adapter
from acestep_train.export.writers import write_lora
from compare_run import add_training_songs, make_run, random_lora

SCORED = ("style", "adherence", "kad")


def spec_for(run, tiny_original, tiny_clap, output) -> GridSpec:
    return GridSpec(str(run), (str(tiny_original),), "turbo", str(output), ("every:1",), (0.0, 0.5, 1.0),
                    (PromptSpec("zzq warm piano", "", 1.0),), seed=7, steps=2, clap=str(tiny_clap))


@pytest.fixture(scope="module")
def bench(tiny_original, tiny_clap, tmp_path_factory):
    """A rendered and scored 2 checkpoints x 2 strengths grid; the run's training songs are three short songs."""
    root = tmp_path_factory.mktemp("scored")
    run = make_run(root)
    add_training_songs(run, root / "songs")
    spec = spec_for(run, tiny_original, tiny_clap, root / "grid")
    loaded = load_pipeline(spec)
    grid = render_grid(spec, loaded=loaded)
    scoring = score_bench(grid, spec.clap, spec.checkpoint_dirs, spec.run)
    return {"spec": spec, "loaded": loaded, "grid": grid, "scoring": scoring, "root": root}


def read(grid) -> dict:
    return json.loads(grid.read_text())


def by_cell(data: dict) -> dict:
    return {(c["checkpoint"], c["strength"]): c for c in data["cells"]}


def test_tiny_clap_loads_through_the_bench_loader(tiny_clap):
    from transformers import ClapModel

    embedder = ClapEmbedder.load(tiny_clap)
    assert isinstance(embedder.model, ClapModel) and not embedder.model.training
    assert embedder.device == ("cuda" if torch.cuda.is_available() else "cpu")
    audio = torch.randn(2, 48000 * 25) * 0.1
    assert [len(w) for w in windows(audio, 48000)] == [480000, 480000, 240000]
    assert [len(w) for w in windows(audio[:, :48000 * 20 + 100], 48000)] == [480000, 480000]  # a 2 ms tail dropped
    assert [len(w) for w in windows(torch.randn(1, 44100 * 3), 44100)] == [144000]  # resampled to 48 kHz
    embedded = embedder.audio_windows(audio, 48000)
    assert embedded.shape == (3, 8) and torch.allclose(embedded.norm(dim=1), torch.ones(3))
    texts = embedder.text(["zzq warm piano", "drums"])
    assert texts.shape == (2, 8) and torch.allclose(texts.norm(dim=1), torch.ones(2))


def test_every_cell_the_base_and_each_checkpoint_get_scores(bench):
    data, scoring = read(bench["grid"]), bench["scoring"]
    for cell in data["cells"]:
        assert -1.0 <= cell["style"] <= 1.0 and -1.0 <= cell["adherence"] <= 1.0
        assert cell["kad"] == next(c["kad"] for c in data["checkpoints"] if c["label"] == cell["checkpoint"])
        assert cell["distance"] > 0 and cell["loss"] is not None  # the signals already there stay
    assert all(isinstance(c["kad"], float) for c in data["checkpoints"])
    base = data["base_scores"]
    assert set(base["clips"][0]) == {"style", "adherence"} and base["kad"] is None  # one base clip: no KAD
    assert "base: KAD needs 2 or more clips" in " ".join(scoring["notes"])
    assert len(scoring["reference_songs"]) == 3 and scoring["skipped"] == [] and scoring["reference_windows"] == 6
    assert scoring["kad_bandwidth"] > 0 and scoring["clips"] == 5
    print(f"tiny CLAP: {scoring['seconds_per_clip']} s per clip on {scoring['device']}, "
          f"load + reference {scoring['load_and_reference_seconds']} s")


def test_scoring_again_reads_the_reference_from_its_cache_and_gives_the_same_numbers(bench, tmp_path):
    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    first = read(copy / "grid.json")
    spec = bench["spec"]
    again = score_bench(copy / "grid.json", spec.clap, spec.checkpoint_dirs, spec.run)
    assert again["cached_songs"] == 3
    second = read(copy / "grid.json")
    assert [[c[k] for k in SCORED] for c in second["cells"]] == [[c[k] for k in SCORED] for c in first["cells"]]
    assert second["base_scores"] == first["base_scores"]


def test_re_rendering_other_cells_with_another_seed_leaves_a_cells_scores_alone(bench, tmp_path):
    from acestep_train.previews import PreviewRequest, render

    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    before = by_cell(read(copy / "grid.json"))
    pipe, family = bench["loaded"]
    prompt = bench["spec"].prompts[0]
    render(pipe, load_adapter(bench["root"] / "run" / "checkpoints" / "2").deltas(),
           PreviewRequest(prompt.song(), seed=99, scales=(0.5, 1.0), steps=2), family,
           copy / "prompt1" / slug("step 2"))
    spec = bench["spec"]
    score_bench(copy / "grid.json", spec.clap, spec.checkpoint_dirs, spec.run)
    after = by_cell(read(copy / "grid.json"))
    for strength in (0.5, 1.0):
        assert [after["step 4", strength][k] for k in SCORED] == [before["step 4", strength][k] for k in SCORED]
        assert after["step 2", strength]["style"] != before["step 2", strength]["style"]
    assert after["step 2", 0.5]["kad"] != before["step 2", 0.5]["kad"]


def test_a_changed_adapter_changes_its_scores_and_only_its(bench, tmp_path):
    run = shutil.copytree(bench["root"] / "run", tmp_path / "run")
    changed = random_lora(9)
    changed.metadata = {"trigger_word": "zzq", "step": 4}
    shutil.rmtree(run / "checkpoints" / "4")
    write_lora(changed, run / "checkpoints" / "4")
    spec = spec_for(run, bench["spec"].checkpoint_dirs[0], bench["spec"].clap, tmp_path / "grid")
    grid = render_grid(spec, loaded=bench["loaded"])
    score_bench(grid, spec.clap, spec.checkpoint_dirs, spec.run)
    before, after = read(bench["grid"]), read(grid)
    old, new = by_cell(before), by_cell(after)
    for strength in (0.5, 1.0):
        assert [new["step 2", strength][k] for k in SCORED] == [old["step 2", strength][k] for k in SCORED]
        assert new["step 4", strength]["style"] != old["step 4", strength]["style"]
        assert new["step 4", strength]["adherence"] != old["step 4", strength]["adherence"]
    assert new["step 4", 0.5]["kad"] != old["step 4", 0.5]["kad"]
    assert after["base_scores"] == before["base_scores"]


def test_cli_twin_scores_a_rendered_grid(bench, tmp_path, capsys):
    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    data = read(copy / "grid.json")
    for cell in data["cells"]:
        del cell["style"]
    (copy / "grid.json").write_text(json.dumps(data))
    assert main(["compare", "--score-only", str(copy), "--clap", bench["spec"].clap]) == 0
    assert "scored 5 clips with" in capsys.readouterr().out
    assert all("style" in c for c in read(copy / "grid.json")["cells"])


def test_without_clap_the_bench_works_and_says_how_to_get_it(bench, tiny_original, tmp_path, capsys):
    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    data = read(copy / "grid.json")
    data["spec"]["clap"] = None  # look in the checkpoint folder, which holds no CLAP
    (copy / "grid.json").write_text(json.dumps(data))
    assert main(["compare", "--score-only", str(copy)]) == 0
    how = f"python -m acestep_train download --checkpoint-dir {tiny_original} --model clap"
    assert how in capsys.readouterr().out
    after = read(copy / "grid.json")
    assert how in after["scoring"]["unavailable"] and after["cells"] == data["cells"]


def test_an_unreadable_training_song_is_skipped_and_reported(bench, tmp_path):
    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    songs = tmp_path / "songs"
    shutil.copytree(bench["root"] / "songs", songs)
    (songs / "broken.wav").write_text("not audio")
    spec = bench["spec"]
    scoring = score_bench(copy / "grid.json", spec.clap, spec.checkpoint_dirs, spec.run, reference=str(songs))
    assert [song for song, _ in scoring["skipped"]] == [str(songs / "broken.wav")]
    assert len(scoring["reference_songs"]) == 3 and scoring["cached_songs"] == 3  # same songs, same cache keys


def test_the_favourites_export_records_its_scores(bench, tmp_path):
    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    favourite = mark_favourite(copy / "grid.json", "step 4", 0.5)
    cell = by_cell(read(copy / "grid.json"))["step 4", 0.5]
    assert favourite["scores"]["style"] == cell["style"] and favourite["scores"]["prompt"] == "zzq warm piano"
    export_choice(favourite["path"], 0.5, "acestep", tmp_path / "export", scores=favourite["scores"])
    recorded = load_adapter(tmp_path / "export").metadata["bench_scores"]
    assert recorded == cell_scores(read(copy / "grid.json"), cell)
    assert {k: recorded[k] for k in SCORED} == {k: cell[k] for k in SCORED}
    assert main(["export", "--adapter", favourite["path"], "--strength", "0.5", "--format", "comfyui",
                 "--bench-scores", str(copy), "--output", str(tmp_path / "cli")]) == 0
    assert load_adapter(tmp_path / "cli").metadata["bench_scores"] == recorded


def test_under_the_studio_a_song_outside_its_roots_is_not_read(bench, tmp_path, monkeypatch):
    """The run's manifest may name any path; under the studio's roots only songs inside them are embedded."""
    from acestep_train.compare.reference import training_songs
    from acestep_train.paths import ROOTS_ENV

    run = bench["root"] / "run"
    monkeypatch.setenv(ROOTS_ENV, str(bench["root"]))  # the songs are inside, tmp_path is not
    assert len(training_songs(run)) == 3
    with pytest.raises(ValueError, match="reference songs folder"):
        training_songs(run, str(tmp_path))
    monkeypatch.setenv(ROOTS_ENV, str(bench["root"] / "run"))  # the tensor folder and the songs are outside
    with pytest.raises(ValueError, match="config.dataset_dir"):
        training_songs(run)


def test_songs_held_out_for_validation_are_not_in_the_reference(tmp_path):
    """``run.json`` records the split that ran; only the songs that trained are the reference."""
    from acestep_train.compare.reference import training_songs

    run = tmp_path / "run"
    run.mkdir()
    songs = add_training_songs(run, tmp_path / "songs")
    assert training_songs(run) == sorted(songs)  # no split recorded: every song of the tensor folder
    record = json.loads((run / "run.json").read_text())
    record["resolved"] = {"split": {"train": ["tone.safetensors", "chords.safetensors"],
                                    "held_out": ["clicks.safetensors"], "how": "listed"}}
    (run / "run.json").write_text(json.dumps(record))
    assert training_songs(run) == sorted(p for p in songs if p.stem != "clicks")


def test_without_songs_to_compare_with_the_bench_says_so_and_stays(bench, tmp_path):
    copy = shutil.copytree(bench["grid"].parent, tmp_path / "grid")
    run = tmp_path / "run"
    run.mkdir()  # a run folder without run.json: its training songs are unknown
    spec = bench["spec"]
    before = read(copy / "grid.json")
    scoring = score_bench(copy / "grid.json", spec.clap, spec.checkpoint_dirs, str(run))
    assert "no run record" in scoring["unavailable"] and "--reference" in scoring["unavailable"]
    assert read(copy / "grid.json")["cells"] == before["cells"]


def test_a_named_reference_folder_lists_its_songs_as_the_dataset_scan_does(tmp_path):
    """``--reference``: every audio file under the folder, sorted, but no macOS ``._song.wav`` resource fork
    (not audio) and no other file; a folder with none is refused by name."""
    from acestep_train.compare.reference import training_songs

    songs = add_training_songs(tmp_path / "run", tmp_path / "songs")
    (tmp_path / "songs" / "._tone.wav").write_bytes(b"\x00\x05\x16\x07")  # AppleDouble, not audio
    (tmp_path / "songs" / "notes.txt").write_text("not a song")
    assert training_songs(tmp_path / "run", str(tmp_path / "songs")) == sorted(songs)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no audio files to compare with"):
        training_songs(tmp_path / "run", str(tmp_path / "empty"))
