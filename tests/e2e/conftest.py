"""Browser tests: the real app served on loopback, driven in Debian's Chromium by Playwright.

Never `playwright install`: we launch /usr/bin/chromium (installed by scripts/test).
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.backends import missing_backend

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        missing_backend(
            f"Chromium not found at {CHROMIUM}: scripts/test installs Debian's chromium"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, tmp_path):
    context = browser.new_context(base_url=live_server, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    # Keep a screenshot of the last state: a failing browser test is easier to read with one.
    artifacts = os.environ.get("PORTAL_TEST_ARTIFACTS")
    if artifacts:
        os.makedirs(artifacts, exist_ok=True)
        page.screenshot(
            path=os.path.join(artifacts, f"{os.getpid()}-{id(page)}.png"), full_page=True
        )
    context.close()
