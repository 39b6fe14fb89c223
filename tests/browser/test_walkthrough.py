"""In headless Debian Chromium: open the studio, walk every tab, start a demo run, see the loss plot grow.

Screenshots of each tab land in ``test-artifacts/screenshots/``. Needs the Debian ``chromium``
package (``.ci/run`` installs it); playwright drives it (its own browser download is never used).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import soundfile

from audio_fixtures import tone
from test_launch import free_port, start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TABS = ["Service", "Dataset", "Auto-label", "Preprocess", "Train", "Export & merge"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    songs = base / "datasets" / "songs"
    songs.mkdir(parents=True)
    for index in range(2):
        soundfile.write(songs / f"s{index}.wav", tone(1.6 + index), 48000)
        (songs / f"s{index}.json").write_text(json.dumps({"caption": f"browser song {index}"}))
    port = free_port()
    proc, _ = start(["--port", str(port), "--demo", "--checkpoint-dir", str(base / "ck"),
                     "--root", str(base / "datasets"), "--root", str(base / "runs")], "ACE-Step Studio trainer: ")
    yield f"http://127.0.0.1:{port}", base
    proc.terminate()
    proc.wait(timeout=30)


def test_walk_the_tabs_and_watch_a_run(studio):
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    url, base = studio
    client = Client(url, verbose=False)
    client.predict("tiny-turbo", str(base / "datasets" / "songs"), str(base / "runs" / "tensors"), 240, "peak", False,
                   "", api_name="/start_preprocess")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name="Service").wait_for()
        for tab in TABS:
            page.get_by_role("tab", name=tab).click()
            time.sleep(0.5)
            page.screenshot(path=str(ARTIFACTS / f"{tab.split()[0].lower()}.png"), full_page=True)
        deadline = time.monotonic() + 120
        while not (base / "runs" / "tensors" / "manifest.json").is_file():
            assert time.monotonic() < deadline, "preprocessing did not finish"
            time.sleep(1)
        page.get_by_role("tab", name="Train").click()
        page.get_by_label("Model", exact=True).fill("tiny-turbo")
        page.get_by_label("Epochs").fill("30")
        page.get_by_label("Crop frames (0: preset)").fill("30")
        page.get_by_role("button", name="Start").click()
        lines = page.locator(".js-plotly-plot .scatterlayer .js-line")
        deadline = time.monotonic() + 150
        longest = 0
        while time.monotonic() < deadline and longest < 400:
            time.sleep(2)
            paths = [lines.nth(i).get_attribute("d") or "" for i in range(lines.count())]
            longest = max([len(p) for p in paths] + [0])
        page.screenshot(path=str(ARTIFACTS / "train-running.png"), full_page=True)
        assert longest >= 400, "the loss plot never grew"
        page.get_by_role("button", name="Stop (saves a checkpoint)").click()
        browser.close()
