"""In headless Debian Chromium: open the studio, walk every tab, start a demo run, see the loss plot grow,
reload the page and find the run again, stop it.

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
from test_launch import free_port, start, wait_status

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TABS = ["Service", "Dataset", "Auto-label", "Preprocess", "Train", "Export & merge"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    pytest.importorskip("playwright", reason="playwright (requirements-dev.txt) is not installed")
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


def plot_length(page) -> int:
    """Characters in the longest drawn line of the page's plots: it grows as the loss curve grows."""
    lines = page.locator(".js-plotly-plot .scatterlayer .js-line")
    return max([len(lines.nth(i).get_attribute("d") or "") for i in range(lines.count())] + [0])


def wait_for_plot(page, length: int, timeout: float) -> int:
    deadline, longest = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and longest < length:
        time.sleep(1.5)
        longest = plot_length(page)
    return longest


def test_walk_the_tabs_and_watch_a_run(studio):
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    url, base = studio
    client = Client(url, verbose=False)
    client.predict(model="tiny-turbo", source=str(base / "datasets" / "songs"), output=str(base / "runs" / "tensors"),
                   api_name="/start_preprocess")
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
        assert ": finished" in wait_status(client, "preprocess", ": finished", 120)
        page.get_by_role("tab", name="Train").click()
        page.get_by_label("Epochs", exact=True).fill("500")
        page.get_by_label("Crop frames, 25 per second", exact=True).fill("30")
        page.get_by_role("button", name="Start", exact=True).click()
        started = time.monotonic()
        first = wait_for_plot(page, 1, 120)
        grown = wait_for_plot(page, first + 100, 60)  # more steps, a longer line
        page.screenshot(path=str(ARTIFACTS / "train-running.png"), full_page=True)
        print(f"plot drawn after {time.monotonic() - started:.1f} s")
        assert first > 0 and grown > first + 100, "the loss plot never grew"
        page.reload()  # a closed tab or a reload: the run, its plot and its log come back
        page.get_by_role("tab", name="Train").click()
        assert wait_for_plot(page, grown, 30) >= grown, "the plot did not come back after a reload"
        assert "step " in page.get_by_label("Status").input_value()
        page.get_by_role("button", name="Stop (saves a checkpoint)").click()
        assert ": stopped" in wait_status(client, "train", ": stopped", 120)
        page.screenshot(path=str(ARTIFACTS / "train-stopped.png"), full_page=True)
        browser.close()
