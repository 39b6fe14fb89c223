"""The Compare tab's grid: a table of every clip's scores and the players, both in the order the user sorts by.

Scores come from ``grid.json`` (``acestep_train.compare.scores``): distance to the base, the
run's loss, and with CLAP the style similarity, prompt adherence and KAD. The base model's
clip of each prompt is a row too, so a user sees where the base ranks. A clip without a score
(no CLAP, or KAD with one clip) sorts last, whatever the direction.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from acestep_train import safe_json
from acestep_train.compare.score_names import HIGHEST_FIRST, SCORES

GRID_ORDER = "grid order"
#: choice -> (score key, highest first)
SORTS = {GRID_ORDER: None, **{f"{name} ({'highest' if key in HIGHEST_FIRST else 'lowest'} first)":
                              (key, key in HIGHEST_FIRST) for key, name in SCORES.items()}}
HEADERS = ["rank", "clip", "prompt", *SCORES.values()]


def clips(grid: dict) -> list[dict]:
    """Every clip as a row: the base's render of each prompt, then the cells, in grid order."""
    base = grid.get("base_scores") or {"clips": [{} for _ in grid["base"]], "kad": None}
    rows = [{"name": "base model (reference)", "prompt": number, "audio": audio, "distance": 0.0, "loss": None,
             **base["clips"][number], "kad": base["kad"]} for number, audio in enumerate(grid["base"])]
    return rows + [{"name": f"{c['checkpoint']} @ {c['strength']:g}", **c} for c in grid["cells"]]


def ordered(rows: list[dict], sort: str) -> list[dict]:
    if sort not in SORTS:
        raise gr.Error(f"Sort by: {sort!r} is not one of {', '.join(SORTS)}")
    if SORTS[sort] is None:
        return list(rows)
    key, highest = SORTS[sort]
    scored = [r for r in rows if r.get(key) is not None]
    return sorted(scored, key=lambda r: r[key], reverse=highest) + [r for r in rows if r.get(key) is None]


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def label(row: dict) -> str:
    return " | ".join([row["name"], *(f"{name} {_number(row.get(key))}" for key, name in SCORES.items())])


def table(grid_path: str, sort: str) -> list[list]:
    if not grid_path:
        return []
    rows = ordered(clips(safe_json.load_file(grid_path)), sort)
    return [[rank, row["name"], row["prompt"] + 1, *(_number(row.get(key)) for key in SCORES)]
            for rank, row in enumerate(rows, 1)]


def scoring_note(grid: dict) -> str:
    scoring = grid.get("scoring")
    if not scoring:
        return "No scores in this grid (rendered before scoring existed, or with --no-score)."
    if "unavailable" in scoring:
        return (f"No scores: {scoring['unavailable']}. Then press Score grid (CLAP), or run "
                "`python -m acestep_train compare --score-only <grid folder>`.")
    skipped = f"; skipped {len(scoring['skipped'])} unreadable songs" if scoring["skipped"] else ""
    return (f"Scored with CLAP against {len(scoring['reference_songs'])} reference songs{skipped} "
            f"({scoring['seconds_per_clip']} s per clip on {scoring['device']}). Style / adherence: cosine "
            "similarity (higher: closer to your songs / to the prompt); KAD: kernel audio distance of a "
            "checkpoint's clips to your songs (lower: closer).")


def players(grid_path: str, sort: str) -> None:
    """For each prompt, every clip (the base too) as a labelled player, in the chosen order."""
    if not grid_path:
        gr.Markdown("No grid yet: render one, or load a grid folder.")
        return
    grid = safe_json.load_file(grid_path)
    root = Path(grid_path).parent
    gr.Markdown(scoring_note(grid))
    rows = ordered(clips(grid), sort)
    for number, caption in enumerate(grid["prompts"]):
        gr.Markdown(f"**Prompt {number + 1}:** {caption}")
        for group in _groups([row for row in rows if row["prompt"] == number], grid, sort):
            with gr.Row():
                for row in group:
                    gr.Audio(str(root / row["audio"]), label=label(row), interactive=False)


def _groups(rows: list[dict], grid: dict, sort: str) -> list[list[dict]]:
    """Grid order: the base alone, then a row per checkpoint; sorted: rows as wide as the strengths, in order."""
    if sort == GRID_ORDER:
        return [rows[:1], *([r for r in rows[1:] if r["checkpoint"] == c["label"]] for c in grid["checkpoints"])]
    width = max(1, len([s for s in grid["strengths"] if s != 0]))
    return [rows[start:start + width] for start in range(0, len(rows), width)]
