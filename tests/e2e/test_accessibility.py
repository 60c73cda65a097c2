"""WCAG 2.1 AA in a real browser (issue 13): axe-core over every page state, and reflow.

The demo data set (``flask seed-demo``: 300+ partners, meetings with minutes, two draft reviews
with comments in several languages) is loaded once for this module. Then, for each role, one
browser context logs in once and walks every page state that role can reach — public pages,
each form in its error state, the review reading and commenting pages, meeting, minutes, RSVP,
staff dashboards, search with results and with the suggestion list open — in English, Arabic
and Chinese:

- axe-core (bundled by ``axe-playwright-python``) runs with the WCAG 2.0/2.1 A and AA rules and
  must report **no violation of any impact**;
- the same state at 390 and at 320 CSS pixels wide must not scroll sideways
  (``document.documentElement.scrollWidth <= innerWidth``, WCAG 1.4.10 Reflow).

Failures are collected and reported together, one line per page state, so one run shows
everything that needs fixing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.agreements.models import Agreement
from portal.consultations.models import AdvisoryGroup, Invitation, Meeting, Minutes
from portal.demo.seed import DEMO_PASSWORD
from portal.extensions import db
from portal.partners.models import Organization
from portal.reviews.models import Comment, ReviewRound
from tests.demo_data import clear_demo, load_demo

pytestmark = pytest.mark.e2e

LOCALES = ("en", "ar", "zh")
WIDTHS = (390, 320)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


# The module shares one data set: replace the per-test emptying of tables (tests/conftest.py)
# with one load before the first test and one clean-up after the last.
@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture(scope="module")
def demo(app):
    with app.app_context():
        load_demo(app)
        ids = _demo_ids()
        db.session.remove()
    yield ids
    clear_demo(app)


def _demo_ids() -> dict[str, int]:
    s = db.session
    partner = s.scalar(select(User).where(User.email == "partner@example.org"))
    group = s.scalar(
        select(AdvisoryGroup).where(AdvisoryGroup.is_public.is_(True)).order_by(AdvisoryGroup.id)
    )
    held = s.scalar(
        select(Meeting)
        .join(Minutes, Minutes.meeting_id == Meeting.id)
        .where(Meeting.group_id == group.id, Minutes.status == "published")
        .order_by(Meeting.starts_at.desc())
    )
    upcoming = s.scalar(
        select(Meeting)
        .join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(Invitation.user_id == partner.id, Meeting.status == "scheduled")
        .order_by(Meeting.starts_at)
    )
    open_round = s.scalar(
        select(ReviewRound).where(ReviewRound.status == "open").order_by(ReviewRound.id)
    )
    closed_round = s.scalar(
        select(ReviewRound).where(ReviewRound.status == "closed").order_by(ReviewRound.id)
    )
    comment = s.scalar(
        select(Comment).where(Comment.round_id == open_round.id).order_by(Comment.id)
    )
    # The partner profile and agreement pages with the most content: the real actors.
    org = s.scalar(select(Organization).where(Organization.name == "Catalytic Action"))
    agreement = s.scalar(
        select(Agreement)
        .where(Agreement.visibility == "public")
        .order_by(Agreement.summary.is_(None), Agreement.id)
    )
    return {
        "org": org.id,
        "agreement": agreement.id,
        "group": group.id,
        "held": held.id,
        "upcoming": upcoming.id,
        "open_round": open_round.id,
        "closed_round": closed_round.id,
        "document": open_round.version.document_id,
        "version": open_round.version.number,
        "comment": comment.id,
    }


# --- page states -----------------------------------------------------------------------------


def _submit_empty(selector: str = "main form.stacked") -> Callable:
    """Submit a form with nothing filled in, past the browser's own `required` checks, so the
    server answers with its error state."""

    def act(page):
        form = page.locator(selector).first
        form.evaluate("f => f.setAttribute('novalidate', '')")
        form.locator("[type=submit]").last.click()
        page.wait_for_load_state()

    return act


def _failed_login(page):
    page.locator("#email").fill("nobody@example.org")
    page.locator("#password").fill("wrong password")
    page.locator("main form [type=submit]").click()
    page.wait_for_load_state()


def _open_suggestions(page):
    box = page.locator("#header-q")
    box.click()
    box.press_sequentially("Nairobi", delay=20)
    page.locator("#suggestions-1 [role=option]").first.wait_for(state="visible")


@dataclass
class State:
    name: str
    path: str | Callable[[dict], str]
    act: Callable | None = None
    wait: str | None = None  # a selector to wait for after loading
    skip_rules: list[str] = field(default_factory=list)

    def url(self, ids: dict) -> str:
        return self.path(ids) if callable(self.path) else self.path


ANONYMOUS = [
    State("home", "/"),
    State("partner directory", "/partners/"),
    State("partner directory, filtered", "/partners/?q=urban&type=22"),
    State("partner profile", lambda i: f"/partners/{i['org']}"),
    State("agreement list", "/agreements/"),
    State("agreement page", lambda i: f"/agreements/{i['agreement']}"),
    State("regions", "/regions/"),
    State("region page", "/regions/002"),
    State("country page", "/regions/country/KE"),
    State("consultations", "/consultations/"),
    State("advisory group", lambda i: f"/consultations/groups/{i['group']}"),
    State("published minutes", lambda i: f"/consultations/meetings/{i['held']}/minutes"),
    State("search results", "/search/?q=housing"),
    State("search, no results", "/search/?q=zzzqqqxxx"),
    State("search suggestions open", "/search/?q=", act=_open_suggestions),
    State("login", "/account/login"),
    State("login failed", "/account/login", act=_failed_login),
    State("password reset request, empty", "/account/reset", act=_submit_empty("main form")),
    State("not found", "/partners/999999999"),
]

PARTNER = [
    State("meeting with RSVP", lambda i: f"/consultations/meetings/{i['upcoming']}"),
    State(
        "RSVP, nothing chosen",
        lambda i: f"/consultations/meetings/{i['upcoming']}",
        act=_submit_empty("form[action*='/rsvp']"),
    ),
    State("reviews", "/reviews/"),
    State("review reading page", lambda i: f"/reviews/rounds/{i['open_round']}"),
    State("comment form", lambda i: f"/reviews/rounds/{i['open_round']}/comment"),
    State(
        "comment form, empty",
        lambda i: f"/reviews/rounds/{i['open_round']}/comment",
        act=_submit_empty(),
    ),
    State("what we heard", lambda i: f"/reviews/rounds/{i['closed_round']}/heard"),
    State("profile", "/account/"),
    State("propose a change", lambda i: f"/partners/{i['org']}/propose"),
]

STAFF = [
    State("staff dashboard", "/staff/"),
    State("audit log", "/staff/audit"),
    State("proposals", "/staff/proposals"),
    State("new partner, empty", "/partners/new", act=_submit_empty()),
    State("new agreement, empty", "/agreements/new", act=_submit_empty()),
    State("new meeting, empty", "/consultations/meetings/new", act=_submit_empty()),
    State("new group, empty", "/consultations/groups/new", act=_submit_empty()),
    State("meeting, staff view", lambda i: f"/consultations/meetings/{i['held']}"),
    State("attendance", lambda i: f"/consultations/meetings/{i['held']}/attendance"),
    State("minutes editor", lambda i: f"/consultations/meetings/{i['held']}/minutes/edit"),
    State("minutes history", lambda i: f"/consultations/meetings/{i['held']}/minutes/history"),
    State("outcome tracker", lambda i: f"/consultations/groups/{i['group']}/tracker"),
    State("consultations dashboard", "/consultations/dashboard"),
    State("review staff comments", lambda i: f"/reviews/rounds/{i['open_round']}/comments"),
    State("review dashboard", lambda i: f"/reviews/rounds/{i['open_round']}/dashboard"),
    State("review invitations", lambda i: f"/reviews/rounds/{i['open_round']}/invitations"),
    State("manage a review round", lambda i: f"/reviews/rounds/{i['open_round']}/manage"),
    State("manage a closed review round", lambda i: f"/reviews/rounds/{i['closed_round']}/manage"),
    State("draft document", lambda i: f"/reviews/documents/{i['document']}"),
    State("new draft document, empty", "/reviews/documents/new", act=_submit_empty()),
    State("invite to a meeting", lambda i: f"/consultations/meetings/{i['upcoming']}/invite"),
    State("round report", lambda i: f"/consultations/groups/{i['group']}/report"),
]

ADMIN = [
    State("users", "/account/users"),
    State("new user, empty", "/account/users/new", act=_submit_empty()),
    State("imports", "/staff/import/"),
    State("imports, no file", "/staff/import/", act=_submit_empty("main form[enctype]")),
]

ROLES = {
    "anonymous": (None, ANONYMOUS),
    "partner": ("partner@example.org", PARTNER),
    "staff": ("staff@example.org", STAFF),
    "admin": ("admin@example.org", ADMIN),
}


def test_enough_page_states_are_checked():
    assert sum(len(states) for _, states in ROLES.values()) >= 40


# --- the walk ----------------------------------------------------------------------------------


def _context(browser, live_server, email: str | None):
    context = browser.new_context(
        base_url=live_server,
        locale="en-GB",
        viewport={"width": 1280, "height": 900},
        bypass_csp=True,  # axe-core is injected as a script; the page itself is unchanged
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    if email:
        page.goto("/account/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("main form [type=submit]").click()
        page.wait_for_url(lambda url: "/account/login" not in url)
    return context, page


def _set_language(page, code: str) -> None:
    page.goto(f"/lang/{code}?next=/")
    assert page.locator("html").get_attribute("lang") == code


def _load(page, ids, state: State):
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto(state.url(ids))
    if state.act:
        state.act(page)
    return response


def _reflow_overflow(page, width: int) -> int:
    page.set_viewport_size({"width": width, "height": 800})
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def _format(results) -> str:
    lines = []
    for v in results["violations"]:
        targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}×): {targets}")
    return "; ".join(lines)


@pytest.mark.parametrize("role", list(ROLES))
def test_axe_and_reflow(role, browser, live_server, demo):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    email, states = ROLES[role]
    context, page = _context(browser, live_server, email)
    problems: list[str] = []
    try:
        for code in LOCALES:
            _set_language(page, code)
            for state in states:
                where = f"[{code}] {role}: {state.name} ({state.url(demo)})"
                response = _load(page, demo, state)
                if response is not None and response.status >= 500:
                    problems.append(f"{where}: HTTP {response.status}")
                    continue
                results = axe.run(
                    page,
                    options={
                        "runOnly": {"type": "tag", "values": AXE_TAGS},
                        "resultTypes": ["violations"],
                    },
                ).response
                if results["violations"]:
                    problems.append(f"{where}: {_format(results)}")
                for width in WIDTHS:
                    overflow = _reflow_overflow(page, width)
                    if overflow > 0:
                        problems.append(f"{where}: scrolls sideways by {overflow}px at {width}px")
    finally:
        context.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


# --- screenshots at 320 px ---------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("code", ["ar", "zh"])
def test_phone_screenshots_fit_320_pixels(code, browser, live_server, demo, tmp_path):
    """Directory, agreement page and review page at 320 px: the full-page screenshot is exactly
    320 px wide (nothing sticks out sideways) and the page reads right to left in Arabic."""
    context, page = _context(browser, live_server, "partner@example.org")
    out = os.environ.get("PORTAL_TEST_ARTIFACTS") or str(tmp_path)
    os.makedirs(out, exist_ok=True)
    try:
        _set_language(page, code)
        page.set_viewport_size({"width": 320, "height": 640})
        for name, path in (
            ("directory", "/partners/"),
            ("agreement", f"/agreements/{demo['agreement']}"),
            ("review", f"/reviews/rounds/{demo['open_round']}"),
        ):
            page.goto(path)
            assert page.locator("html").get_attribute("dir") == ("rtl" if code == "ar" else "ltr")
            shot = page.screenshot(full_page=True, path=os.path.join(out, f"320-{code}-{name}.png"))
            width, height = _png_size(shot)
            assert width == 320, f"{name} in {code} is {width}px wide at 320px"
            assert height > 640, f"{name} in {code}: only {height}px of content"
            # The main heading is inside the viewport horizontally, not pushed off-screen.
            box = page.locator("main h1").first.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320 + 0.5
    finally:
        context.close()


def test_a_visitor_reads_the_public_consultation_at_320_pixels_in_arabic(
    browser, live_server, demo, tmp_path
):
    """Issue 11 item 2: without an account, the review index, the public round and its docket
    fit 320 px, read right to left, and offer "sign in to comment"."""
    context, page = _context(browser, live_server, None)
    out = os.environ.get("PORTAL_TEST_ARTIFACTS") or str(tmp_path)
    os.makedirs(out, exist_ok=True)
    try:
        _set_language(page, "ar")
        page.set_viewport_size({"width": 320, "height": 640})
        for name, path in (
            ("public-index", "/reviews/"),
            ("public-round", f"/reviews/rounds/{demo['open_round']}"),
            ("docket", f"/reviews/rounds/{demo['open_round']}/docket"),
        ):
            answer = page.goto(path)
            assert answer.status == 200, path
            assert page.locator("html").get_attribute("dir") == "rtl"
            shot = page.screenshot(full_page=True, path=os.path.join(out, f"320-ar-{name}.png"))
            assert _png_size(shot)[0] == 320, f"{name} is wider than 320px"
        page.goto(f"/reviews/rounds/{demo['open_round']}")
        assert page.locator("#public-consultation a.btn").count() == 1
    finally:
        context.close()


# --- forms and focus ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["en", "ar"])
def test_failed_form_says_error_and_moves_focus_to_a_summary_linking_the_fields(
    code, browser, live_server, demo
):
    context, page = _context(browser, live_server, None)
    try:
        _set_language(page, code)
        page.goto("/account/reset")
        _submit_empty("main form")(page)
        title = page.title()
        prefix = {"en": "Error:", "ar": "خطأ:"}[code]
        assert title.startswith(prefix), title
        summary = page.locator(".error-summary")
        assert summary.count() == 1
        # Focus starts on the summary, not on <body>.
        assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
        link = summary.locator("a").first
        assert link.get_attribute("href") == "#email"
        link.click()
        assert page.evaluate("() => document.activeElement.id") == "email"
        # The field says it is invalid and points at its message.
        field = page.locator("#email")
        assert field.get_attribute("aria-invalid") == "true"
        assert "email-err" in field.get_attribute("aria-describedby")
        assert field.get_attribute("autocomplete") == "email"
    finally:
        context.close()


def test_login_fields_carry_autocomplete_tokens(browser, live_server, demo):
    context, page = _context(browser, live_server, None)
    try:
        page.goto("/account/login")
        assert page.locator("#email").get_attribute("autocomplete") == "username"
        assert page.locator("#password").get_attribute("autocomplete") == "current-password"
    finally:
        context.close()
