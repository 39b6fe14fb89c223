"""Shared pieces of the browser tests: a studio on the demo model whose console goes to a file, headless
Debian Chromium, and what counts as an error on screen (an error toast or a component's "Error" badge)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # a loaded 2-core machine runs the tiny model slowly
#: where the studio's downloads go: a loopback port nothing listens on (tests stay offline, and say so fast)
NO_HUB = "http://127.0.0.1:9"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ERRORS_JS = """() => [...document.querySelectorAll('.toast-body.error')].map(e => e.innerText.trim()).concat(
  [...document.querySelectorAll('.error')].filter(e => e.textContent.trim() === 'Error')
    .map(e => 'Error badge on ' + (e.closest('[id]') || e).id))"""

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian chromium is not installed (apt-get install -y chromium)")


class Studio:
    """``python launch.py --demo`` on a free port, its console in ``log``; ``stop()`` ends it. Its hub is
    ``NO_HUB``: a download fails as it does offline."""

    def __init__(self, base: Path, port: int):
        self.base, self.log = base, base / "server.log"
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "launch.py"), "--port", str(port), "--demo", "--checkpoint-dir",
                 str(base / "ck"), "--root", str(base / "datasets"), "--root", str(base / "state"),
                 "--state-dir", str(base / "studio-state")],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "HF_ENDPOINT": NO_HUB})
        deadline = time.monotonic() + 400  # a loaded machine starts slowly
        while "ACE-Step Studio trainer: " not in self.console():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.console()
            time.sleep(0.2)

    def console(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def open_browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)  # a loaded 2-core machine renders slowly
    return browser, page


BUSY_JS = """() => [...document.querySelectorAll('[data-testid=status-tracker]:not(.hide)')]
  .filter(e => !e.querySelector('.error')).length === 0"""


def settle(page, timeout: float = 240) -> None:
    """Wait until no component shows its event running (Gradio's status tracker is hidden when done)."""
    page.wait_for_timeout(300)  # the click's event has marked its outputs pending
    page.wait_for_function(BUSY_JS, timeout=timeout * 1000, polling=100)


def errors_on_screen(page) -> list[str]:
    """The error toasts' texts and the components showing an "Error" badge (empty when there is none)."""
    return page.evaluate(ERRORS_JS)


def close_toasts(page) -> None:
    page.evaluate("() => document.querySelectorAll('.toast-close').forEach(b => b.click())")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_text(locator, wanted: str, timeout: float = 240, value: bool = True) -> str:
    """Poll a textbox (its value) or any element (its text) until it contains ``wanted``."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        text = locator.input_value() if value else locator.inner_text()
        if wanted in text:
            return text
        time.sleep(1.0)
    raise AssertionError(f"never saw {wanted!r}; last: {text!r}")


def error_toasts(page) -> list[str]:
    """The texts of the error toasts on screen."""
    return page.locator(".toast-body.error").all_inner_texts()


def refused(page, name: str, wanted: str) -> list[str]:
    """Click a button of the tab on screen; it must be refused with an error toast saying ``wanted``. Returns
    the error toasts' texts (then closed), for the caller to check what else they say."""
    page.get_by_role("button", name=name, exact=True).filter(visible=True).first.click()
    page.locator(".toast-body.error").filter(has_text=wanted).first.wait_for(timeout=60_000)
    settle(page)
    texts = error_toasts(page)
    close_toasts(page)
    return texts


def status_box(page):
    """The Status box of the tab on screen."""
    return page.get_by_label("Status", exact=True).filter(visible=True).first


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    time.sleep(0.5)


def started_job(page, kind: str) -> str:
    """The id of the ``kind`` job a click just started or queued, read from the tab's message.

    Waiting on this id (not on any ": finished") matters when an earlier test's job of the same kind
    is still shown in the status box until the next poll.
    """
    note = page.get_by_text(re.compile(rf"(Started|Queued) {kind} job ")).filter(visible=True).last
    note.wait_for(timeout=60_000)
    return re.search(rf"(?:Started|Queued) {kind} job ([A-Za-z0-9_-]+)", note.inner_text()).group(1)


def wait_job(page, kind: str, job: str, wanted: str = ": finished") -> str:
    """The tab's status box once it shows ``job`` (not an earlier job of its kind) with ``wanted``."""
    return wait_text(status_box(page), f"{kind} {job}{wanted}", TIMEOUT)


def click(page, name: str) -> None:
    """Click a button of the tab on screen, wait for its answer, and require no error on screen."""
    page.get_by_role("button", name=name, exact=True).filter(visible=True).first.click()
    settle(page)
    assert errors_on_screen(page) == [], f"{name}: an error on screen"


def fill(page, label: str, value: str) -> None:
    page.get_by_label(label, exact=True).filter(visible=True).first.fill(value)


def job_row(page, job_id: str):
    """The Jobs table's row of ``job_id``: Gradio 6 draws the rows as ``div[role=row]`` of a virtual table
    (its ``tbody`` is a hidden sizing copy), one ``div[role=gridcell]`` per column."""
    return page.locator(".virtual-row[role=row]").filter(has=page.get_by_role("gridcell", name=job_id, exact=True))


def pick_job(page, job_id: str) -> str:
    """Click the job's row, then Show status and log; the details it shows."""
    job_row(page, job_id).get_by_role("gridcell").nth(2).click()  # its status cell: any cell picks the row
    wait_text(page.get_by_label("Job", exact=True), job_id, 30)
    click(page, "Show status and log")
    return wait_text(page.get_by_label("Status and log", exact=True), job_id, 30)


def timer_ticks(page, studio) -> list:
    """The ticks the page sends from now on (POSTs whose trigger is one of the app's timers)."""
    config = json.loads(urllib.request.urlopen(f"{studio.url}/config", timeout=60).read())
    timers = {block["id"] for block in config["components"] if block["type"] == "timer"}
    ticks = []

    def seen(request) -> None:
        body = request.post_data_json if request.method == "POST" and "/queue/join" in request.url else None
        if isinstance(body, dict) and body.get("trigger_id") in timers:
            ticks.append(body["trigger_id"])

    page.on("request", seen)
    return ticks


def after_a_tick(page, ticks: list, timeout: float = 60) -> None:
    """Wait until a timer ticked once more (``ticks`` from ``timer_ticks``) and its answer had time to land."""
    page.wait_for_timeout(100)  # requests sent while the test slept are counted first
    seen, deadline = len(ticks), time.monotonic() + timeout
    while len(ticks) == seen:
        assert time.monotonic() < deadline, "no timer ticked"
        page.wait_for_timeout(200)
    page.wait_for_timeout(1000)
