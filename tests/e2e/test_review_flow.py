"""Issue 5 browser acceptance: staff upload a DOCX and open a round for an advisory group; a
reviewer comments on paragraph 3 with a proposed change; staff answer the comment and export the
comment matrix; the XLSX, opened with openpyxl, holds that row.

Everything happens through the pages, as people would use them; the one step that is not a page
is the invitation worker (``flask reviews run-jobs``), which production runs in the background.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from docx import Document
from openpyxl import load_workbook

from portal.accounts.models import Role
from portal.consultations.models import AdvisoryGroup, GroupMember
from portal.extensions import db
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e

COMMENT = "Say which 2021 survey this figure comes from."
PROPOSED = "Replace “many partners” with “312 partners (2021 partner survey)”."
RESPONSE = "The source is now cited; the figure is rounded to avoid false precision."


def _draft_docx() -> bytes:
    document = Document()
    document.add_heading("I. Introduction", level=1)
    document.add_paragraph("1. Partnerships are central to delivering the New Urban Agenda.")
    document.add_paragraph("2. The Stakeholder Advisory Group meets every month.")
    document.add_heading("II. Partners in the regions", level=1)
    document.add_paragraph("3. Many partners took part in the regional consultations in 2021.")
    document.add_paragraph("4. The World Urban Forum gathers partners from every region.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _log_in(page, email: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/account/login" not in url)


def _no_errors(page) -> None:
    assert page.locator(".flash-error, .errors").count() == 0, page.locator("main").inner_text()


def test_review_from_upload_to_comment_matrix(page, browser, live_server, runner, factories):
    factories.make_user(Role.STAFF, email="secretariat@example.org", name="Sara Secretariat")
    org = factories.make_org("Slum Dwellers International", country="ZA", regions=("018",))
    reviewer = factories.make_user(
        Role.PARTNER, organization=org, email="reviewer@example.org", name="Thandi Reviewer"
    )
    group = AdvisoryGroup(name="Stakeholder Advisory Group", description="")
    db.session.add(group)
    db.session.flush()
    db.session.add(GroupMember(group_id=group.id, user_id=reviewer.id, organization_id=org.id))
    db.session.commit()

    # --- staff upload the draft and open a round for the group --------------------------------
    _log_in(page, "secretariat@example.org")
    page.goto("/reviews/documents/new")
    page.get_by_label("Title").fill("World Urban Forum background paper")
    page.get_by_label("Draft (.docx or .md)").set_input_files(
        {
            "name": "background-paper.docx",
            "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "buffer": _draft_docx(),
        }
    )
    page.get_by_role("button", name="Import as version 1").click()
    page.wait_for_url(re.compile(r"/versions/1$"))
    _no_errors(page)
    page.get_by_role("button", name="Publish this version").click()
    page.get_by_role("link", name="Open a review round").click()

    now = datetime.now(UTC)
    page.get_by_label("Title of the round").fill("First review of the background paper")
    page.get_by_label("Who reviews").select_option("groups")
    page.get_by_label("Advisory groups").select_option(label="Stakeholder Advisory Group")
    page.get_by_label("Time zone").select_option("UTC")
    page.get_by_label("Opens").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Closes").fill((now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Open the round and send invitations").click()
    page.wait_for_url(re.compile(r"/reviews/rounds/\d+/invitations$"))
    _no_errors(page)
    round_id = int(re.search(r"/rounds/(\d+)/", page.url).group(1))

    # The background worker sends the invitations (it ends the test's database session, so
    # only plain values are used from here on).
    result = runner.invoke(args=["reviews", "run-jobs"])
    assert result.exit_code == 0, result.output
    page.reload()
    assert page.locator("#invited-count").inner_text() == "1"

    # --- the reviewer comments on paragraph 3 with a proposed change --------------------------
    context = browser.new_context(base_url=live_server, locale="en-GB")
    try:
        reviewer_page = context.new_page()
        reviewer_page.set_default_timeout(15_000)
        _log_in(reviewer_page, "reviewer@example.org")
        reviewer_page.goto(f"/reviews/rounds/{round_id}")
        reviewer_page.get_by_role(
            "link", name="Comment on this paragraph (paragraph 3)", exact=True
        ).click()
        reviewer_page.get_by_label("Type").select_option("technical")
        reviewer_page.get_by_label("Comment", exact=True).fill(COMMENT)
        reviewer_page.get_by_label("Proposed change (optional)").fill(PROPOSED)
        reviewer_page.get_by_role("button", name="Save comment").click()
        reviewer_page.wait_for_load_state()
        assert "Your comment has been saved." in reviewer_page.locator("main").inner_text()
    finally:
        context.close()

    # --- staff answer it and export the comment matrix ----------------------------------------
    page.goto("/staff/")
    reviews_card = page.locator("#reviews-card")
    reviews_card.get_by_role("link", name="Comments and answers").click()
    page.wait_for_url(re.compile(rf"/reviews/rounds/{round_id}/comments"))
    main = page.locator("main")
    assert "0 of 1 comments answered" in main.inner_text()
    assert COMMENT in main.inner_text() and "Thandi Reviewer" in main.inner_text()
    page.get_by_label(re.compile(r"^Decision on comment #\d+$")).select_option("accepted-in-part")
    page.get_by_label(re.compile(r"^Response to comment #\d+$")).fill(RESPONSE)
    page.get_by_role("button", name=re.compile(r"^Save answer to comment #\d+$")).click()
    page.wait_for_load_state()
    _no_errors(page)
    assert "1 of 1 comments answered" in page.locator("main").inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download XLSX").click()
    download = download_info.value
    assert download.suggested_filename == f"comment-matrix-round-{round_id}.xlsx"
    with open(download.path(), "rb") as fh:  # Playwright's temp file has no .xlsx suffix
        sheet = load_workbook(io.BytesIO(fh.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "No.",
        "Reviewer",
        "Organisation",
        "Region",
        "Paragraph",
        "Type",
        "Comment",
        "Proposed change",
        "Disposition",
        "Response",
        "Anonymous to other reviewers",
        "Endorsements",
    )
    assert rows[1] == (
        1,
        "Thandi Reviewer",
        "Slum Dwellers International",
        "Southern Africa",
        "3",
        "Technical",
        COMMENT,
        PROPOSED,
        "Accepted in part",
        RESPONSE,
        None,  # a signed comment: the anonymity column is empty
        0,  # nobody endorsed it
    )
    assert len(rows) == 2
