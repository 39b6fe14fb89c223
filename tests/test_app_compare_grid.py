"""The Compare tab's score table: every clip a row (the base too), sorted by any score, unscored clips last."""

from __future__ import annotations

import json

import gradio as gr
import pytest

from app import compare_grid

GRID = {"prompts": ["zzq piano"], "strengths": [0, 0.5, 1], "base": ["prompt1/base.wav"],
        "checkpoints": [{"label": "step 2"}, {"label": "step 4"}],
        "base_scores": {"clips": [{"style": 0.5, "adherence": 0.2}], "kad": None},
        "cells": [{"checkpoint": "step 2", "strength": 0.5, "prompt": 0, "audio": "a.wav", "distance": 0.1,
                   "loss": 0.8, "style": 0.9, "adherence": 0.1, "kad": 3.0},
                  {"checkpoint": "step 4", "strength": 0.5, "prompt": 0, "audio": "b.wav", "distance": 0.2,
                   "loss": 0.6, "style": 0.7, "adherence": 0.3, "kad": 1.0}]}


@pytest.fixture
def grid_path(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(GRID))
    return str(path)


def names(rows):
    return [row[1] for row in rows]


def test_each_sort_orders_by_its_score_and_puts_missing_scores_last(grid_path):
    assert names(compare_grid.table(grid_path, "grid order")) == ["base model (reference)", "step 2 @ 0.5",
                                                                  "step 4 @ 0.5"]
    assert names(compare_grid.table(grid_path, "style similarity (highest first)")) == [
        "step 2 @ 0.5", "step 4 @ 0.5", "base model (reference)"]
    assert names(compare_grid.table(grid_path, "prompt adherence (highest first)")) == [
        "step 4 @ 0.5", "base model (reference)", "step 2 @ 0.5"]
    assert names(compare_grid.table(grid_path, "KAD to the training songs (lowest first)")) == [
        "step 4 @ 0.5", "step 2 @ 0.5", "base model (reference)"]  # the base has no KAD (one clip): last
    assert names(compare_grid.table(grid_path, "loss (lowest first)")) == [
        "step 4 @ 0.5", "step 2 @ 0.5", "base model (reference)"]
    row = compare_grid.table(grid_path, "grid order")[1]
    assert row == [2, "step 2 @ 0.5", 1, "0.1000", "0.8000", "0.9000", "0.1000", "3.0000"]
    with pytest.raises(gr.Error, match="Sort by"):
        compare_grid.table(grid_path, "volume")


def test_the_note_says_how_to_get_scores_when_there_are_none():
    note = compare_grid.scoring_note({**GRID, "scoring": {"unavailable": "no CLAP model in /ck"}})
    assert note.startswith("No scores: no CLAP model in /ck") and "--score-only" in note
    assert "rendered before scoring" in compare_grid.scoring_note({k: v for k, v in GRID.items()})


def test_every_score_has_a_column_a_sort_and_a_label_from_one_list(grid_path):
    """The table, the sort choices and the players' labels all come from ``compare.score_names.SCORES``:
    a score added there appears in each, in the same column as its value."""
    from acestep_train.compare.score_names import SCORES

    row = compare_grid.table(grid_path, "grid order")[1]
    assert len(compare_grid.HEADERS) == len(row)
    assert dict(zip(compare_grid.HEADERS[3:], row[3:])) == {
        "distance to base": "0.1000", "loss": "0.8000", "style similarity": "0.9000", "prompt adherence": "0.1000",
        "KAD to the training songs": "3.0000"}
    assert sorted(key for key, _ in filter(None, compare_grid.SORTS.values())) == sorted(SCORES)
    label = compare_grid.label(compare_grid.clips(GRID)[0])
    assert label.startswith("base model (reference) | distance to base 0.0000 | loss n/a | style similarity 0.5000")


def test_the_grid_module_imports_without_torch():
    """The trainer UI imports it before the page is served: torch stays unimported (the scores' names are torch-free)."""
    import subprocess
    import sys

    code = "import sys, app.compare_grid; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
