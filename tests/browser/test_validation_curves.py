"""Validation in Chromium on the demo model: a song marked "Hold out for validation" in the Dataset tab,
preprocessed, then a run validating every 2 steps: the Train tab plots the validation loss and the base
model's reference beside the training loss, and its status names the validation loss and its cost.
Screenshots: ``test-artifacts/screenshots/validation-*.png``."""

from __future__ import annotations

import json

import soundfile
from audio_fixtures import tone
from studio_page import (TIMEOUT, click, errors_on_screen, fill, needs_chromium, open_browser, shot, started_job,
                         status_box, tab, wait_job, wait_text)

from acestep_train.events import read_events

pytestmark = needs_chromium
LEGEND = ("validation loss (held-out songs)", "base model on held-out songs", "smoothed loss")


def mark_a_song(page, project) -> None:
    tab(page, "1 · Project")
    fill(page, "Project folder (new or existing)", str(project))
    click(page, "Open or create")
    for index in range(3):
        soundfile.write(project / "songs" / f"take{index}.wav", tone(10.4, freq=200 + 60 * index), 48000)
        (project / "songs" / f"take{index}.json").write_text(json.dumps({"caption": f"take {index}, warm pads"}))
    tab(page, "2 · Dataset")
    click(page, "Scan")
    page.get_by_text("3 files: 3 usable").wait_for(timeout=60_000)
    click(page, "Open")  # the first song, take0.wav
    page.get_by_label("Hold out for validation").filter(visible=True).first.check()
    page.get_by_text("take0.wav: held out for validation").wait_for(timeout=60_000)
    assert json.loads((project / "songs" / "take0.json").read_text())["holdout"] is True
    shot(page, "validation-01-dataset-mark")


def test_train_tab_plots_validation_beside_training(studio):
    from playwright.sync_api import sync_playwright

    project = studio.base / "datasets" / "validation-band"
    with sync_playwright() as playwright:
        browser, page = open_browser(playwright)
        page.goto(studio.url)
        mark_a_song(page, project)
        tab(page, "4 · Preprocess")
        click(page, "Preprocess")
        wait_job(page, "preprocess", started_job(page, "preprocess"))
        tab(page, "5 · Train")
        for name, value in (("Epochs", "12"), ("Crop frames, 25 per second", "30"),
                            ("Preview every N steps (0: off)", "0"), ("Validation every N steps (0: off)", "2")):
            fill(page, name, value)
        click(page, "Start")
        run = started_job(page, "train")
        status = wait_job(page, "train", run)
        status = wait_text(status_box(page), "validation loss", 60)
        assert "(base model " in status and "x a training step" in status
        page.wait_for_function(f"() => {list(LEGEND)}.every((name) => [...document.querySelectorAll('.legendtext')]"
                               ".some((e) => e.textContent === name))", timeout=TIMEOUT * 1000)
        page.locator(".legendtext", has_text=LEGEND[0]).first.scroll_into_view_if_needed()
        shot(page, "validation-02-train-curves")
        held = [e for e in read_events(project / "runs" / "run" / "events.jsonl") if e["event"] == "validation"]
        assert held and all(e["loss"] > 0 and e["base_loss"] > 0 for e in held)
        assert errors_on_screen(page) == []
        browser.close()
    assert "Traceback" not in studio.console()
