"""The login page in headless Debian Chromium: before login it holds no description of the API (no
endpoint names, no server paths), and logging in still opens the whole studio and its "Use via API"
page (the browser fetches the description through the login-checked route)."""

from __future__ import annotations

import pytest
from studio_page import errors_on_screen, needs_chromium, open_browser, shot
from test_launch import free_port, start

pytestmark = needs_chromium


@pytest.fixture
def guarded(tmp_path):
    port = free_port()
    proc, _ = start(["--port", str(port), "--auth", "me:right-pass", "--checkpoint-dir", str(tmp_path / "ck"),
                     "--root", str(tmp_path / "data"), "--state-dir", str(tmp_path / "state")],
                    "ACE-Step Studio trainer: ", timeout=400)
    yield f"http://127.0.0.1:{port}", tmp_path
    proc.terminate()
    proc.wait(timeout=30)


def test_the_login_page_leaks_nothing_and_still_logs_in(guarded):
    from playwright.sync_api import sync_playwright

    url, base = guarded
    with sync_playwright() as playwright:
        browser, page = open_browser(playwright)
        try:
            page.goto(url)
            page.get_by_label("username").fill("me")
            html = page.content()
            assert "named_endpoints" not in html and str(base) not in html
            assert page.evaluate("() => window.gradio_api_info") is None
            page.get_by_label("password").fill("right-pass")
            page.get_by_role("button", name="Login").click()
            page.get_by_role("tab", name="Dataset").wait_for()
            shot(page, "login-then-studio")
            assert errors_on_screen(page) == []
            page.get_by_text("Use via API").click()  # the description, fetched now that we are logged in
            page.get_by_text("/resolved_settings").first.wait_for()
        finally:
            browser.close()
