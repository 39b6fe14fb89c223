"""In headless Debian Chromium: open the listening bench, render a 2 checkpoints x 3 strengths grid of
the demo model as a job, scored by a tiny CLAP against the run's training songs; sort it by style
similarity; play a cell, mark it favourite and export it at its strength with its scores (read back).

Needs the Debian ``chromium`` package and playwright (requirements-dev.txt), like test_walkthrough.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from compare_run import add_training_songs, make_run
from tiny_clap import write_tiny_clap

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def bench(studio):
    """The shared studio (conftest.py) and a run folder for the bench inside one of its roots; the tiny CLAP
    is removed afterwards, so the other browser tests' grids stay unscored whatever order they run in."""
    base = studio.base / "datasets" / "bench"
    run = make_run(base)
    add_training_songs(run, base / "songs")
    clap = studio.base / "ck" / "clap-htsat-unfused"  # where `download --model clap` puts it
    written = not clap.is_dir()
    if written:
        write_tiny_clap(clap)
    yield studio.url, base, run
    if written:
        shutil.rmtree(clap)


def fill_grid(page, base: Path, run: Path) -> None:
    page.get_by_role("tab", name="Compare").click()
    page.get_by_label("Run folder", exact=True).last.fill(str(run))
    page.get_by_label("Checkpoints (best, final, every:N, step numbers)").fill("every:1")
    page.get_by_label("Strengths", exact=True).fill("0 0.5 1")
    page.get_by_label("Prompt 1 caption (with the trigger word)").fill("zzq warm piano")
    page.get_by_label("Seconds per clip").fill("1")
    page.get_by_label("Steps (blank: the variant's)").fill("2")
    page.get_by_label("Grid folder").fill(str(base / "grid"))


def test_render_the_grid_and_play_a_cell(bench):
    from playwright.sync_api import sync_playwright

    from acestep_train.export.load import load_adapter

    url, base, run = bench
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        fill_grid(page, base, run)
        page.get_by_role("button", name="Render grid").click()
        started = time.monotonic()
        labels = page.locator("label[data-testid='block-label']")
        labels.filter(has_text="step 4 @ 1 |").wait_for(timeout=400_000)
        print(f"grid shown after {time.monotonic() - started:.1f} s")
        assert labels.filter(has_text=" @ ").count() == 4 and labels.filter(has_text="base model").count() == 1
        assert labels.filter(has_text="step 2 @ 0 |").count() == 0  # strength 0 is the base, shown once
        page.screenshot(path=str(ARTIFACTS / "compare-grid.png"), full_page=True)
        check_scores_and_sort(page, base / "grid" / "grid.json")

        cell = page.locator(".block").filter(has=labels.filter(has_text="step 4 @ 0.5 |")).last
        media = cell.locator("audio[src^='blob:']")  # the player's loaded clip (1 s)
        media.wait_for(state="attached", timeout=60_000)
        assert media.evaluate("a => [a.currentTime, a.paused]") == [0, True]
        cell.get_by_role("button", name="Play", exact=True).click()
        page.wait_for_function("a => a.currentTime > 0", arg=media.element_handle(), timeout=15_000)  # it played

        page.get_by_label("Cell", exact=True).click()
        page.get_by_role("option", name="step 4 @ 0.5 (prompt 1)").click()
        page.get_by_role("button", name="Mark favourite").click()
        result = page.get_by_label("Favourite / export")
        page.wait_for_function("e => e.value.includes('favourite: step 4 at strength 0.5')",
                               arg=result.element_handle(), timeout=30_000)
        page.get_by_label("Export folder").last.fill(str(base / "chosen"))
        page.get_by_role("button", name="Export this one").click()
        page.wait_for_function("e => e.value.includes('baked in')", arg=result.element_handle(), timeout=60_000)
        browser.close()
    exported, source = load_adapter(base / "chosen"), load_adapter(run / "checkpoints" / "4")
    assert exported.metadata["strength"] == 0.5
    assert set(exported.metadata["bench_scores"]) >= {"distance", "loss", "style", "adherence", "kad", "base"}
    a, b = exported.deltas(), source.deltas(0.5)
    assert max((a[k] - b[k]).abs().max().item() for k in b) < 1e-5


def table_rows(page) -> list[list[str]]:
    """The score table's rows as text (Gradio 6 draws them as virtual rows of grid cells)."""
    return page.locator("#compare-scores .virtual-row").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))")


def check_scores_and_sort(page, grid_json: Path) -> None:
    """The score table has a row per clip (the base too) with every score; sorted by style, it and the
    players follow the grid's own numbers, highest first."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    headers = page.locator("#compare-scores thead th").all_inner_texts()
    assert [h for h in ("distance to base", "loss", "style similarity", "prompt adherence", "KAD")
            if not any(h in text for text in headers)] == []
    page.get_by_text("Scored with CLAP against 3 reference songs").wait_for()
    grid = json.loads(grid_json.read_text())
    clips = [("base model (reference)", grid["base_scores"]["clips"][0]["style"])]
    clips += [(f"{c['checkpoint']} @ {c['strength']:g}", c["style"]) for c in grid["cells"]]
    expected = [name for name, _ in sorted(clips, key=lambda clip: clip[1], reverse=True)]
    page.get_by_label("Sort grid by").click()
    page.get_by_role("option", name="style similarity (highest first)").click()
    try:
        page.wait_for_function("""(names) => JSON.stringify([...document.querySelectorAll('#compare-scores .virtual-row')]
            .map(r => r.querySelectorAll('[role=gridcell]')[1]?.innerText.trim())) === JSON.stringify(names)""",
                               arg=expected)
    except PlaywrightTimeout:
        print("table:", table_rows(page), "expected:", expected)
        raise
    rows = table_rows(page)
    styles = [float(row[5]) for row in rows]
    assert styles == sorted(styles, reverse=True), rows
    assert all(row[7] for row in rows[1:] if row[1] != "base model (reference)")  # KAD per checkpoint
    page.wait_for_function("""(names) => { const l = [...document.querySelectorAll("label[data-testid='block-label']")]
        .map(e => e.innerText).filter(t => t.includes(' | style ')).map(t => t.split(' | ')[0]);
        return JSON.stringify(l) === JSON.stringify(names); }""", arg=expected)  # the players too
    page.screenshot(path=str(ARTIFACTS / "compare-scores-sorted.png"), full_page=True)
