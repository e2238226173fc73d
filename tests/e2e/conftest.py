"""Browser fixtures: Debian's chromium driven by Playwright. A browser is never downloaded."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run
# beside it. The live server and the test body use the database from different threads anyway.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("GUANXI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("GUANXI_E2E_OPTIONAL") == "1":
            pytest.skip(reason)
        pytest.fail(reason + "; set GUANXI_E2E_OPTIONAL=1 to skip browser tests instead")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


PASSWORD = "correct horse battery staple"
# Screenshots go to test-results/ (looked at after a run); GUANXI_UPDATE_SCREENSHOTS=1 refreshes
# the README's copies in docs/screenshots/.
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def screenshots() -> Path:
    folder = REPO / (
        "docs/screenshots" if os.environ.get("GUANXI_UPDATE_SCREENSHOTS") == "1" else "test-results"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def sign_in(live_server, page):
    """Sign in through the login form, in Chinese; `username` must have PASSWORD."""

    def sign_in(username: str) -> None:
        page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
        page.goto(live_server.url + "/")
        assert "/accounts/login/" in page.url
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")  # the top bar holds the language buttons
        page.wait_for_url(live_server.url + "/")

    return sign_in
