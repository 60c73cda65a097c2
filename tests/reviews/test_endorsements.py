"""Issue 11 item 4: reviewers endorse ("+1") other comments where the round allows it.

Who may endorse (a reviewer who may see the comment, never their own, only while the round is
open and only where the round allows it), withdrawing, a second click, and the count shown
beside each comment everywhere comments are listed — with the endorsers' names only where
names are shown anyway.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.core.models import utcnow
from portal.extensions import db
from portal.reviews.models import Endorsement
from tests.conftest import login

REMARK = "Paragraph one should cite the 2030 targets."
DOC_REMARK = "The whole draft needs a summary."


@pytest.fixture
def people(factories):
    alpha = factories.make_org("Alpha Institute")
    beta = factories.make_org("Beta Cities Network")
    return {
        "ana": factories.make_user(
            "partner", organization=alpha, email="ana@a.example", name="Ana Alpha"
        ),
        "ben": factories.make_user(
            "partner", organization=beta, email="ben@b.example", name="Ben Beta"
        ),
        "cai": factories.make_user(
            "partner", organization=beta, email="cai@b.example", name="Cai Chen"
        ),
        "outsider": factories.make_user("partner", email="out@x.example", name="Olga Outsider"),
        "staff": factories.make_user("staff", email="boss@un.example", name="Sam Staff"),
    }


def _round(factories, people, **kw):
    version = factories.make_review_version(
        ["First paragraph of the draft.", "Second paragraph."], title="Endorsed draft"
    )
    params = {
        "invited": [people["ana"], people["ben"], people["cai"]],
        "reviewers_see_each_other": True,
        "allow_endorsements": True,
    }
    params.update(kw)
    review_round = factories.make_review_round(version, **params)
    p1 = version.paragraphs[0]
    comment = factories.make_review_comment(review_round, people["ana"], p1, body=REMARK)
    db.session.commit()
    return review_round, p1, comment


@pytest.fixture
def endorsable(factories, people):
    return _round(factories, people)


def _endorse(client, comment, action="endorse", **extra):
    return client.post(f"/reviews/comments/{comment.id}/endorse", data={"do": action, **extra})


def _count(comment) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(Endorsement.id)).where(Endorsement.comment_id == comment.id)
    )


def _thread_url(review_round, paragraph) -> str:
    return f"/reviews/rounds/{review_round.id}/comment?p={paragraph.anchor}"


def _button(html: str, comment) -> str:
    match = re.search(
        rf'<form[^>]*action="/reviews/comments/{comment.id}/endorse".*?</form>', html, re.S
    )
    assert match, "no endorse button"
    return match.group(0)


# --- Endorsing and withdrawing ------------------------------------------------------------------


def test_a_reviewer_endorses_then_withdraws_without_javascript(client, endorsable, people):
    review_round, p1, comment = endorsable
    login(client, "ben@b.example")
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    button = _button(page, comment)
    assert 'aria-pressed="false"' in button and ">Endorse<" in button
    assert "0 endorsements" in page

    answer = _endorse(client, comment)
    assert answer.status_code == 303
    # Back to the same comment in its thread.
    assert answer.headers["Location"].endswith(f"p={p1.anchor}#comment-{comment.id}")
    assert _count(comment) == 1
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "You endorse this comment." in page
    button = _button(page, comment)
    assert 'aria-pressed="true"' in button and "Endorsed — withdraw" in button
    assert 'name="do" value="withdraw"' in button
    assert "1 endorsement" in page and "Ben Beta (Beta Cities Network)" in page
    stored = db.session.scalar(select(Endorsement))
    assert stored.organization_id == people["ben"].organization_id

    answer = _endorse(client, comment, "withdraw")
    assert answer.status_code == 303 and _count(comment) == 0
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your endorsement is withdrawn." in page
    assert 'aria-pressed="false"' in _button(page, comment)


def test_endorsing_and_withdrawing_are_audited(client, endorsable):
    from portal.core.audit import AuditLog

    _review_round, _p1, comment = endorsable
    login(client, "ben@b.example")
    _endorse(client, comment)
    _endorse(client, comment, "withdraw")
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.object_id == comment.id)
    ).all()
    assert "endorse" in actions and "withdraw-endorsement" in actions


def test_a_second_endorsement_is_refused_clearly_and_counts_once(client, endorsable):
    review_round, p1, comment = endorsable
    login(client, "ben@b.example")
    assert _endorse(client, comment).status_code == 303
    # The same form sent again (a second tab, a double click): nothing added, and said so.
    answer = _endorse(client, comment)
    assert answer.status_code == 303 and _count(comment) == 1
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "You already endorse this comment." in page
    # Withdrawing what is not there is refused the same way.
    _endorse(client, comment, "withdraw")
    answer = _endorse(client, comment, "withdraw")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "You do not endorse this comment." in page and _count(comment) == 0


def test_the_button_returns_to_the_page_it_was_pressed_on(client, endorsable):
    review_round, _p1, comment = endorsable
    login(client, "ben@b.example")
    heard = f"/reviews/rounds/{review_round.id}/heard"
    answer = _endorse(client, comment, next=heard)
    assert answer.headers["Location"].endswith(f"{heard}#comment-{comment.id}")
    # Never to another site.
    answer = _endorse(client, comment, "withdraw", next="//evil.example/")
    assert "evil" not in answer.headers["Location"]


def test_each_button_has_its_own_accessible_name(client, factories, people, endorsable):
    review_round, p1, comment = endorsable
    second = factories.make_review_comment(review_round, people["cai"], p1, body="Agreed.")
    db.session.commit()
    login(client, "ben@b.example")
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    names = {
        re.sub(r"<[^>]+>", "", _button(page, c).split("<button", 1)[1].split(">", 1)[1])
        for c in (comment, second)
    }
    assert len(names) == 2


# --- Who may endorse -----------------------------------------------------------------------------


def test_own_comment_is_refused(client, endorsable):
    review_round, p1, comment = endorsable
    login(client, "ana@a.example")
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert f"/reviews/comments/{comment.id}/endorse" not in page
    assert _endorse(client, comment).status_code == 403
    assert _count(comment) == 0


def test_a_comment_the_reviewer_cannot_see_is_refused(client, factories, people):
    _review_round, _p1, comment = _round(factories, people, reviewers_see_each_other=False)
    login(client, "ben@b.example")
    assert _endorse(client, comment).status_code == 404
    assert _count(comment) == 0


def test_someone_not_invited_is_refused(client, endorsable):
    _review_round, _p1, comment = endorsable
    login(client, "out@x.example")
    assert _endorse(client, comment).status_code in (403, 404)
    assert _count(comment) == 0


def test_a_closed_round_refuses_and_says_so(client, factories, people):
    review_round, p1, comment = _round(factories, people)
    review_round.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    login(client, "ben@b.example")
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert f"/reviews/comments/{comment.id}/endorse" not in page
    assert "0 endorsements" in page
    answer = _endorse(client, comment)
    assert _count(comment) == 0
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Commenting closed on" in page


def test_withdrawing_closes_with_the_round(client, endorsable):
    review_round, p1, comment = endorsable
    login(client, "ben@b.example")
    _endorse(client, comment)
    review_round.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    _endorse(client, comment, "withdraw")
    assert _count(comment) == 1
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert "You endorsed this comment" in page


def test_a_round_without_the_setting_refuses_and_shows_nothing(client, factories, people):
    review_round, p1, comment = _round(factories, people, allow_endorsements=False)
    login(client, "ben@b.example")
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert "endorse" not in page.lower()
    assert _endorse(client, comment).status_code == 403
    assert _count(comment) == 0


def test_replies_are_not_endorsed(client, factories, people, endorsable):
    review_round, p1, comment = endorsable
    reply = factories.make_review_comment(
        review_round, people["staff"], p1, body="Thank you.", parent_id=comment.id
    )
    db.session.commit()
    login(client, "ben@b.example")
    assert _endorse(client, reply).status_code == 403


def test_a_visitor_on_a_public_round_is_sent_to_sign_in(client, factories, people):
    review_round, p1, comment = _round(
        factories, people, invited=[], audience_kind="public", public=True
    )
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert "Sign in to endorse" in page and "0 endorsements" in page
    answer = _endorse(client, comment)
    assert answer.status_code == 302
    assert "/account/login" in answer.headers["Location"]
    assert f"comment-{comment.id}" in answer.headers["Location"]
    assert _count(comment) == 0
    # Any account may endorse on a public round (as any account may comment).
    login(client, "out@x.example")
    assert _endorse(client, comment).status_code == 303
    assert _count(comment) == 1


def test_the_permission_rule(factories, people):
    from portal.reviews import permissions

    review_round, _p1, comment = _round(factories, people)
    assert permissions.can_endorse(people["ben"], comment)
    assert not permissions.can_endorse(people["ana"], comment)  # own
    assert not permissions.can_endorse(people["outsider"], comment)  # not invited
    from flask_login import AnonymousUserMixin

    assert not permissions.can_endorse(AnonymousUserMixin(), comment)
    later = utcnow() + timedelta(days=30)
    assert not permissions.can_endorse(people["ben"], comment, now=later)
    comment.status = "withdrawn"
    assert not permissions.can_endorse(people["ben"], comment)


# --- Counts (and names) everywhere comments are listed ------------------------------------------


@pytest.fixture
def endorsed(client, factories, people):
    """A public round: a paragraph comment endorsed by Ben and Cai, a whole-document comment
    endorsed by Ben."""
    review_round, p1, comment = _round(
        factories, people, audience_kind="public", public=True, allow_anonymous=False
    )
    doc_comment = factories.make_review_comment(review_round, people["cai"], None, body=DOC_REMARK)
    db.session.commit()
    who_endorses_what = (("ben@b.example", (comment, doc_comment)), ("cai@b.example", (comment,)))
    for email, targets in who_endorses_what:
        login(client, email)
        for target in targets:
            assert _endorse(client, target).status_code == 303
        client.post("/account/logout")
    return review_round, p1, comment, doc_comment


def test_counts_on_every_page(client, endorsed):
    review_round, p1, comment, doc_comment = endorsed
    base = f"/reviews/rounds/{review_round.id}"
    pages = {
        "round page": base,
        "paragraph view": _thread_url(review_round, p1),
        "docket": f"{base}/docket",
        "docket comment": f"{base}/docket/{comment.id}",
        "what we heard": f"{base}/heard",
    }
    for name, url in pages.items():
        html = client.get(url).get_data(as_text=True)
        if name == "round page":
            # The round page lists whole-document comments (paragraphs show comment counts).
            assert re.search(rf'id="endorsements-{doc_comment.id}".*?1 endorsement<', html, re.S)
            continue
        assert re.search(rf'id="endorsements-{comment.id}".*?2 endorsements<', html, re.S), name
        # Names are shown here anyway (reviewers see each other, no anonymity).
        if name != "round page":
            assert "Ben Beta (Beta Cities Network)" in html, name


def test_counts_in_the_api_and_the_docket_downloads(client, endorsed):
    review_round, _p1, comment, doc_comment = endorsed
    api = client.get(f"/api/v1/reviews/rounds/{review_round.id}/comments").get_json()
    by_id = {c["id"]: c for c in api["comments"]}
    assert by_id[comment.id]["endorsements"] == 2
    assert by_id[doc_comment.id]["endorsements"] == 1
    assert by_id[comment.id]["endorsers"] == [
        "Ben Beta (Beta Cities Network)",
        "Cai Chen (Beta Cities Network)",
    ]
    assert by_id[comment.id]["endorsed_by_you"] is False

    data = json.loads(client.get(f"/reviews/rounds/{review_round.id}/docket.json").data)
    rows = {c["id"]: c for c in data["comments"]}
    assert rows[comment.id]["endorsements"] == 2 and rows[doc_comment.id]["endorsements"] == 1

    text = client.get(f"/reviews/rounds/{review_round.id}/docket.csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-1] == "Endorsements"
    counts = {int(r[0]): int(r[-1]) for r in table[1:]}
    assert counts == {comment.id: 2, doc_comment.id: 1}


def test_the_api_tells_a_reviewer_their_own_endorsement(client, endorsed):
    review_round, _p1, comment, _doc = endorsed
    login(client, "ben@b.example")
    api = client.get(f"/api/v1/reviews/rounds/{review_round.id}/comments").get_json()
    assert {c["id"]: c["endorsed_by_you"] for c in api["comments"]}[comment.id] is True


def test_counts_in_the_staff_list_and_the_matrix_exports(client, endorsed):
    review_round, _p1, comment, doc_comment = endorsed
    login(client, "boss@un.example")
    html = client.get(f"/reviews/rounds/{review_round.id}/comments").get_data(as_text=True)
    assert re.search(rf'id="endorsements-{comment.id}".*?2 endorsements<', html, re.S)
    assert "Cai Chen (Beta Cities Network)" in html

    text = client.get(f"/reviews/rounds/{review_round.id}/matrix.csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-1] == "Endorsements"
    by_body = {r[6]: r[-1] for r in table[1:]}
    assert by_body[REMARK] == "2" and by_body[DOC_REMARK] == "1"

    from openpyxl import load_workbook

    workbook = load_workbook(
        io.BytesIO(client.get(f"/reviews/rounds/{review_round.id}/matrix.xlsx").data)
    )
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][-1] == "Endorsements"
    assert sorted(r[-1] for r in rows[1:]) == [1, 2]

    from docx import Document

    document = Document(
        io.BytesIO(client.get(f"/reviews/rounds/{review_round.id}/matrix.docx").data)
    )
    table = document.tables[0]
    assert table.rows[0].cells[-1].text == "Endorsements"
    assert sorted(r.cells[-1].text for r in table.rows[1:]) == ["1", "2"]


def test_an_anonymous_round_shows_counts_not_names(client, factories, people):
    review_round, p1, comment = _round(factories, people, allow_anonymous=True)
    login(client, "ben@b.example")
    _endorse(client, comment)
    client.post("/account/logout")
    login(client, "cai@b.example")
    _endorse(client, comment)
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert "2 endorsements" in page
    assert "Ben Beta" not in page
    api = client.get(f"/api/v1/reviews/rounds/{review_round.id}/comments").get_json()
    assert api["comments"][0]["endorsements"] == 2 and api["comments"][0]["endorsers"] == []
    heard = client.get(f"/reviews/rounds/{review_round.id}/heard").get_data(as_text=True)
    assert "2 endorsements" in heard and "Ben Beta" not in heard
    # Staff see who.
    client.post("/account/logout")
    login(client, "boss@un.example")
    page = client.get(_thread_url(review_round, p1)).get_data(as_text=True)
    assert "Ben Beta (Beta Cities Network)" in page


def test_counts_never_reveal_a_comment_the_viewer_may_not_see(client, factories, people):
    review_round, _p1, comment = _round(factories, people, reviewers_see_each_other=False)
    login(client, "boss@un.example")  # staff may endorse like any reviewer of the round
    _endorse(client, comment)
    client.post("/account/logout")
    login(client, "ben@b.example")
    api = client.get(f"/api/v1/reviews/rounds/{review_round.id}/comments").get_json()
    assert api["comments"] == []
    heard = client.get(f"/reviews/rounds/{review_round.id}/heard").get_data(as_text=True)
    assert "endorsement" not in heard


# --- The round setting -------------------------------------------------------------------------


def test_the_round_form_offers_the_setting_off_by_default(client, factories, people):
    from portal.reviews.models import ReviewRound

    version = factories.make_review_version(["Text."], title="Set up")
    db.session.commit()
    login(client, "boss@un.example")
    url = f"/reviews/documents/{version.document_id}/versions/{version.number}/rounds/new"
    form = client.get(url).get_data(as_text=True)
    assert 'name="allow_endorsements"' in form
    assert re.search(r'<input(?![^>]*checked)[^>]*name="allow_endorsements"', form)
    data = {
        "title": "With endorsements",
        "audience_kind": "all-partners",
        "timezone": "UTC",
        "opens_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (utcnow() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        "reminder_days": "3",
    }
    assert client.post(url, data={**data, "allow_endorsements": "y"}).status_code == 302
    assert client.post(url, data={**data, "title": "Without"}).status_code == 302
    rounds = {r.title: r for r in db.session.scalars(select(ReviewRound))}
    assert rounds["With endorsements"].allow_endorsements is True
    assert rounds["Without"].allow_endorsements is False
