"""Shared pieces of the browser tests: a studio on the demo model whose console goes to a file, headless
Debian Chromium, and what counts as an error on screen (an error toast or a component's "Error" badge)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
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
    """``python launch.py --demo`` on a free port, its console in ``log``; ``stop()`` ends it."""

    def __init__(self, base: Path, port: int):
        self.base, self.log = base, base / "server.log"
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "launch.py"), "--port", str(port), "--demo", "--checkpoint-dir",
                 str(base / "ck"), "--root", str(base / "datasets"), "--root", str(base / "state"),
                 "--state-dir", str(base / "studio-state")],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
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
