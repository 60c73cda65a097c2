"""Issue 11 browser acceptance (items 1 and 4), in Chromium.

- The faithfully imported draft as a reviewer sees it: screenshots of the rendered table, a
  footnote and an image (the image is fetched through the permission-checked route).
- A keyboard-only reviewer (no mouse or pointer event at all) selects a passage in the middle of
  an English paragraph and of a Chinese one, hears each step in the live region, and comments
  on exactly that passage; the round page then highlights it with its count.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from portal.accounts.models import Role
from portal.core.models import utcnow
from portal.extensions import db
from portal.reviews.models import Comment, Paragraph
from tests.conftest import TEST_PASSWORD
from tests.reviews.fidelity_files import MARKDOWN, PNG_ALT

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n"

# Counts every mouse or pointer event the page receives, across page loads of the tab.
NO_MOUSE = """
(() => {
  for (const type of ["mousedown", "mouseup", "mousemove", "pointerdown", "pointerup",
                      "pointermove", "wheel", "contextmenu", "dblclick"]) {
    window.addEventListener(type, () => {
      sessionStorage.setItem("mouse", String(Number(sessionStorage.getItem("mouse") || 0) + 1));
    }, true);
  }
})();
"""


def _setup_round(factories):
    from portal.reviews import services
    from portal.reviews.importing import parse_markdown
    from portal.reviews.jobs import run_pending_jobs

    staff = factories.make_user(Role.STAFF, email="secretariat@example.org", name="Sara")
    org = factories.make_org("Slum Dwellers International")
    factories.make_user(
        Role.PARTNER, organization=org, email="reader@example.org", name="Thandi Reader"
    )
    document = services.create_document("Background paper", "", "en", staff)
    version = services.add_version(
        document,
        parse_markdown(MARKDOWN),
        source_format="md",
        source_filename="paper.md",
        changelog="",
        actor=staff,
    )
    services.publish_version(version, staff)
    round_ = services.open_round(
        version,
        title="First review",
        audience_kind="emails",
        audience={"emails": ["reader@example.org"]},
        opens_at=utcnow() - timedelta(hours=1),
        closes_at=utcnow() + timedelta(days=10),
        timezone="UTC",
        instructions="",
        reviewers_see_each_other=False,
        allow_anonymous=False,
        actor=staff,
    )
    db.session.commit()
    round_id, version_id = round_.id, version.id
    run_pending_jobs()
    return round_id, version_id


def _log_in_by_keyboard(page, email: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/account/login" not in url)


def _tab_to(page, predicate_js: str, limit: int = 400) -> None:
    """Press Tab until the focused element satisfies ``predicate_js`` (an arrow function)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"({predicate_js})(document.activeElement)"):
            return
    raise AssertionError("never reached the element with Tab")


def _live(page) -> str:
    return page.locator("#passage-live").inner_text()


def _wait_live(page, pattern: str) -> str:
    page.wait_for_function(
        "(p) => new RegExp(p).test(document.getElementById('passage-live').textContent)",
        arg=pattern,
    )
    return _live(page)


def _wait_jump(page, start: str) -> None:
    page.wait_for_function(
        "(s) => document.querySelector('[data-jump-live]').textContent.startsWith(s)", arg=start
    )


def _shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("PORTAL_TEST_ARTIFACTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_table_footnote_and_image_as_the_reviewer_sees_them(
    browser, live_server, factories, tmp_path
):
    round_id, _version_id = _setup_round(factories)
    context = browser.new_context(base_url=live_server, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _log_in_by_keyboard(page, "reader@example.org")
        page.goto(f"/reviews/rounds/{round_id}")
        shots = _shots(tmp_path)

        table = page.locator("table.review-table")
        assert table.locator("th").all_inner_texts() == ["Region", "Partners"]
        assert table.locator("th strong").inner_text() == "Partners"
        assert table.locator("td a").get_attribute("href") == "https://example.org/arab"
        shot = table.screenshot(path=str(shots / "review-table.png"))
        assert shot[:8] == PNG

        # The footnote: its number in the text links to the note under the paragraph.
        first = page.locator(".review-block[data-number='1']")
        ref = first.locator("a.note-ref")
        assert ref.inner_text() == "1"
        note = first.locator(".para-notes li")
        assert "Decision 1/3, adopted on 31 May 2019." in note.inner_text()
        assert note.locator("em").inner_text() == "31 May 2019"
        assert first.locator("strong").inner_text() == "Executive Board"
        shot = first.screenshot(path=str(shots / "review-footnote.png"))
        assert shot[:8] == PNG

        # The image, loaded through /reviews/images/<id> after the permission check.
        image = page.locator("figure.review-figure img")
        assert image.get_attribute("alt") == PNG_ALT
        page.wait_for_function(
            "() => { const i = document.querySelector('figure.review-figure img');"
            " return i && i.complete && i.naturalWidth === 24 && i.naturalHeight === 16; }"
        )
        shot = page.locator("figure.review-figure").screenshot(path=str(shots / "review-image.png"))
        assert shot[:8] == PNG

        # At 320 px the page does not scroll sideways.
        page.set_viewport_size({"width": 320, "height": 800})
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1
    finally:
        context.close()


@pytest.mark.parametrize(
    "number, rights, extend, passage, announced",
    [
        # "The Executive Board adopted the strategic plan …": 5 words on, then 2 words.
        (1, 5, 2, "strategic plan", "Selected: strategic plan (14 characters)"),
        # "在将于 2022 年 6 月举行的世界城市论坛之前，…": character by character in Chinese.
        (5, 10, 6, "世界城市论坛", "Selected: 世界城市论坛 (6 characters)"),
    ],
    ids=["english", "chinese"],
)
def test_keyboard_only_comment_on_a_passage(
    browser, live_server, factories, number, rights, extend, passage, announced
):
    round_id, version_id = _setup_round(factories)
    paragraph = db.session.scalar(
        db.select(Paragraph).where(Paragraph.version_id == version_id, Paragraph.number == number)
    )
    anchor, text = paragraph.anchor, paragraph.text
    start = text.index(passage)
    assert 0 < start and start + len(passage) < len(text)  # in the middle of the paragraph

    context = browser.new_context(base_url=live_server, locale="en-GB")
    context.add_init_script(NO_MOUSE)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _log_in_by_keyboard(page, "reader@example.org")
        page.goto(f"/reviews/rounds/{round_id}")

        button = f"pb-{anchor}"
        _tab_to(page, f"(el) => el && el.getAttribute('data-select-passage') === '{button}'")
        assert page.evaluate("document.activeElement.textContent").startswith("Select a passage")
        page.keyboard.press("Enter")
        _wait_live(page, "^Selecting a passage")
        assert page.evaluate("document.activeElement.id") == button
        assert page.evaluate("document.activeElement.getAttribute('role')") == "textbox"

        for _ in range(rights):
            page.keyboard.press("ArrowRight")
        _wait_live(page, "^At: " + re.escape(passage[0]))
        for _ in range(extend):
            page.keyboard.press("Shift+ArrowRight")
        assert _wait_live(page, "^" + re.escape(announced) + "$") == announced
        # What is announced is what is selected on the screen.
        assert page.evaluate("String(window.getSelection())") == passage

        page.keyboard.press("Enter")  # comment on the selection
        page.wait_for_url(re.compile(r"/comment\?"))
        assert page.get_by_label("Passage you comment on").input_value() == passage
        assert page.evaluate("document.activeElement.id") == "body"
        page.keyboard.type("This needs a source." if number == 1 else "请注明出处。")
        _tab_to(
            page, "(el) => el && el.tagName === 'BUTTON' && /Save comment/.test(el.textContent)"
        )
        # Wait for the POST's navigation itself: wait_for_load_state() alone can return at
        # once, on the form page that is still loaded, before the browser has left it.
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert "Your comment has been saved." in page.locator("main").inner_text()

        # The round page highlights the passage, with its count.
        page.goto(f"/reviews/rounds/{round_id}")
        mark = page.locator(f"#pb-{anchor} mark.commented")
        assert mark.count() == 1
        assert mark.get_attribute("title") == "1 comment on this passage"
        assert (
            page.evaluate(
                "(id) => { const n = document.querySelector('#' + id + ' mark.commented');"
                " const w = document.createTreeWalker(n, NodeFilter.SHOW_TEXT); let s = '';"
                " while (w.nextNode()) if (!w.currentNode.parentElement.closest('[data-skip]'))"
                " s += w.currentNode.data; return s; }",
                f"pb-{anchor}",
            )
            == passage
        )
        assert mark.locator(".passage-count").inner_text().startswith("1")

        assert page.evaluate("sessionStorage.getItem('mouse')") is None, "a mouse event fired"
    finally:
        context.close()

    db.session.expire_all()
    comment = db.session.scalar(db.select(Comment).where(Comment.paragraph_id == paragraph.id))
    assert comment.quoted_text == passage
    assert (comment.quote_start, comment.quote_end) == (start, start + len(passage))


def test_long_draft_contents_and_paragraph_jumps_by_keyboard(browser, live_server, factories):
    """The seed report (40 paragraphs): Next/Previous keep the focus and announce the paragraph;
    "Go to paragraph" moves the focus there; the contents link to the headings."""
    from portal.reviews import services
    from portal.reviews.importing import parse_markdown
    from portal.reviews.jobs import run_pending_jobs
    from tests.reviews.seed_fixture import to_markdown

    staff = factories.make_user(Role.STAFF, email="secretariat@example.org", name="Sara")
    factories.make_user(Role.PARTNER, email="reader@example.org", name="Thandi Reader")
    document = services.create_document("报告草案", "", "zh", staff)
    version = services.add_version(
        document,
        parse_markdown(to_markdown()),
        source_format="md",
        source_filename="seed.md",
        changelog="",
        actor=staff,
    )
    services.publish_version(version, staff)
    round_ = services.open_round(
        version,
        title="Review",
        audience_kind="emails",
        audience={"emails": ["reader@example.org"]},
        opens_at=utcnow() - timedelta(hours=1),
        closes_at=utcnow() + timedelta(days=10),
        timezone="UTC",
        instructions="",
        reviewers_see_each_other=False,
        allow_anonymous=False,
        actor=staff,
    )
    db.session.commit()
    round_id = round_.id
    run_pending_jobs()

    context = browser.new_context(base_url=live_server, locale="en-GB")
    context.add_init_script(NO_MOUSE)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _log_in_by_keyboard(page, "reader@example.org")
        page.goto(f"/reviews/rounds/{round_id}")
        assert page.locator(".doc-toc li").count() == 12
        _tab_to(page, "(el) => el && el.getAttribute('data-jump') === 'next'")
        live = page.locator("[data-jump-live]")
        page.keyboard.press("Enter")
        _wait_jump(page, "Paragraph 1:")
        page.keyboard.press("Enter")
        _wait_jump(page, "Paragraph 2:")
        assert page.evaluate("document.activeElement.getAttribute('data-jump')") == "next"
        assert page.locator(".review-block.current").get_attribute("data-number") == "2"
        page.keyboard.press("Shift+Tab")  # back to "Previous paragraph"
        page.keyboard.press("Enter")
        _wait_jump(page, "Paragraph 1:")
        assert live.inner_text().startswith("Paragraph 1:")
        # "Go to paragraph 39": the focus lands on its number.
        _tab_to(page, "(el) => el && el.id === 'jump-number'")
        page.keyboard.type("39")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.activeElement.classList.contains('para-number')"
            " && document.activeElement.textContent.trim() === '39.'"
        )
        assert page.url.endswith(
            "#" + page.evaluate("document.activeElement.closest('.review-block').id")
        )
        assert page.evaluate("sessionStorage.getItem('mouse')") is None, "a mouse event fired"
    finally:
        context.close()


# --- Endorsing ("+1") by keyboard at 320 px, in English and Arabic -----------------------------


def _setup_endorsable_round(factories):
    from portal.reviews import services

    staff = factories.make_user(Role.STAFF, email="sec@example.org", name="Sara")
    org = factories.make_org("Habitat Youth Network")
    author = factories.make_user(
        Role.PARTNER, organization=org, email="author@example.org", name="Amina Author"
    )
    factories.make_user(
        Role.PARTNER, organization=org, email="endorser@example.org", name="Eli Endorser"
    )
    version = factories.make_review_version(
        ["The plan should count informal settlements.", "Second paragraph."],
        title="Endorsable draft",
    )
    round_ = services.open_round(
        version,
        title="Review with endorsements",
        audience_kind="emails",
        audience={"emails": ["author@example.org", "endorser@example.org"]},
        opens_at=utcnow() - timedelta(hours=1),
        closes_at=utcnow() + timedelta(days=10),
        timezone="UTC",
        instructions="",
        reviewers_see_each_other=True,
        allow_anonymous=False,
        allow_endorsements=True,
        actor=staff,
    )
    db.session.commit()
    from portal.reviews.jobs import run_pending_jobs

    run_pending_jobs()  # both reviewers invited
    paragraph = version.paragraphs[0]
    comment = services.post_comment(
        round_, author, paragraph=paragraph, body="Add the 2030 figures here."
    )
    db.session.commit()
    return round_.id, paragraph.anchor, comment.id


@pytest.mark.parametrize(
    ("lang", "endorse", "withdraw", "done"),
    [
        ("en", "Endorse", "Endorsed — withdraw", "You endorse this comment."),
        ("ar", "تأييد", "مؤيَّد — سحب", "أنت تؤيد هذا التعليق."),
    ],
)
def test_endorse_and_withdraw_by_keyboard_at_320_pixels(
    browser, live_server, factories, lang, endorse, withdraw, done
):
    round_id, anchor, comment_id = _setup_endorsable_round(factories)
    context = browser.new_context(
        base_url=live_server, locale="en-GB", viewport={"width": 320, "height": 700}
    )
    context.add_init_script(NO_MOUSE)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _log_in_by_keyboard(page, "endorser@example.org")
        page.goto(f"/lang/{lang}?next=/")
        assert page.locator("html").get_attribute("lang") == lang
        page.goto(f"/reviews/rounds/{round_id}/comment?p={anchor}")
        if lang == "ar":
            assert page.locator("html").get_attribute("dir") == "rtl"

        def to_button():
            _tab_to(page, "(el) => el && el.classList.contains('btn-endorse')")
            return page.evaluate(
                "() => { const b = document.activeElement; return [b.getAttribute('aria-pressed'),"
                " b.textContent.trim(), b.closest('form').getAttribute('action')]; }"
            )

        pressed, name, action = to_button()
        assert pressed == "false" and name.startswith(endorse)
        assert str(comment_id) in name  # its accessible name says which comment
        assert action == f"/reviews/comments/{comment_id}/endorse"
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.url.endswith(f"#comment-{comment_id}")  # back at the same comment
        assert done in page.locator("main").inner_text()
        assert (
            page.locator(f"#endorsements-{comment_id} .endorse-count").get_attribute(
                "data-endorsements"
            )
            == "1"
        )
        assert "Eli Endorser" in page.locator(f"#endorsements-{comment_id}").inner_text()
        pressed, name, _action = to_button()
        assert pressed == "true" and name.startswith(withdraw)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert (
            page.locator(f"#endorsements-{comment_id} .endorse-count").get_attribute(
                "data-endorsements"
            )
            == "0"
        )
        pressed, _name, _action = to_button()
        assert pressed == "false"
        assert page.evaluate("sessionStorage.getItem('mouse')") is None, "a mouse event fired"
    finally:
        context.close()
