"""Issue 15 acceptance: with the Content-Security-Policy in report-only mode, Chromium reports
nothing on a crawl of the portal's pages as each role — anonymous, partner, staff, admin.

A listener installed before any page script collects ``securitypolicyviolation`` events (the
browser fires them in report-only mode too); console messages about the policy are collected
as well. The crawl follows same-site links breadth-first and visits each URL pattern (ids
folded) once, types into the search box so the suggestion script runs, and clicks through a
review paragraph's comment link so the quoting script runs."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import TEST_PASSWORD
from tests.security.conftest import build_world

pytestmark = pytest.mark.e2e

LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.sample]);
});
"""
# Downloads and one-way actions are not pages to crawl.
SKIP = re.compile(
    r"(\.ics|\.docx|\.csv|\.xlsx|/documents/\d+$|/matrix\.|/lang/|/account/reset/|/r/|/unsubscribe/)"
)
MAX_PAGES = 70


def _pattern(path: str) -> str:
    return re.sub(r"/\d+", "/N", path)


def _crawl(context, base: str) -> tuple[list[str], list]:
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on(
        "console",
        lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    violations: list = []
    seen_patterns: set[str] = set()
    visited: list[str] = []
    queue = deque(["/"])
    while queue and len(visited) < MAX_PAGES:
        path = queue.popleft()
        if _pattern(urlsplit(path).path) in seen_patterns:
            continue
        seen_patterns.add(_pattern(urlsplit(path).path))
        response = page.goto(base + path)
        visited.append(f"{path} {response.status if response else '?'}")
        if path == "/":
            page.locator("#header-q").fill("hab")
            page.wait_for_timeout(400)  # the suggestion request and its list
        if "/reviews/rounds/" in path and page.locator("a[data-comment-link]").count():
            page.locator(".para-body").first.select_text()
            page.locator("a[data-comment-link]").first.click()
            page.wait_for_load_state()
            violations += page.evaluate("window.__csp")
            page.go_back()
        violations += [[path, *v] for v in page.evaluate("window.__csp")]
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(urljoin(base + path, href))
            if f"{url.scheme}://{url.netloc}" != base or SKIP.search(url.path):
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if _pattern(url.path) not in seen_patterns:
                queue.append(target)
    page.close()
    return visited, violations + console


@pytest.mark.parametrize("role", ["anonymous", "partner", "staff", "admin"])
def test_csp_reports_nothing_on_a_crawl_as_each_role(app, browser, live_server, role):
    world = build_world()
    app.config["CSP_REPORT_ONLY"] = True
    context = browser.new_context(base_url=live_server, locale="en-GB")
    context.add_init_script(LISTENER)
    try:
        if role != "anonymous":
            page = context.new_page()
            page.goto("/account/login")
            page.get_by_label("E-mail").fill(getattr(world, role).email)
            page.get_by_label("Password").fill(TEST_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(lambda url: "/account/login" not in url)
            page.close()
        visited, violations = _crawl(context, live_server)
    finally:
        context.close()
        app.config["CSP_REPORT_ONLY"] = False
    assert len(visited) >= (8 if role == "anonymous" else 15), visited
    assert violations == [], violations
