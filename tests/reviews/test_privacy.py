"""Issue 11 item 5: "reviewers see each other's comments" off means off on every view — the
round page, the comment threads, "what we heard", the JSON API — while the round is open;
anonymous comments name no one but to staff; the staff matrix marks them in a column."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.reviews.models import Comment
from tests.conftest import login
from tests.reviews.test_comments_api import token_for

ANA_ON_P1 = "Ana worries about paragraph one."
ANA_WHOLE = "Ana on the whole document."
BEN_OWN = "Ben keeps his own view."


@pytest.fixture
def people(factories):
    org = factories.make_org("Alpha Institute")
    return {
        "ana": factories.make_user(
            "partner", organization=org, email="ana@a.example", name="Ana Alpha"
        ),
        "ben": factories.make_user("partner", email="ben@b.example", name="Ben Beta"),
        "staff": factories.make_user("staff", email="boss@un.example", name="Sam Staff"),
    }


def _round(factories, people, *, see_each_other, anonymous=False):
    version = factories.make_review_version(["First paragraph.", "Second paragraph."])
    review_round = factories.make_review_round(
        version,
        invited=[people["ana"], people["ben"]],
        reviewers_see_each_other=see_each_other,
        allow_anonymous=True,
    )
    p1 = version.paragraphs[0]
    factories.make_review_comment(
        review_round, people["ana"], p1, body=ANA_ON_P1, anonymous=anonymous
    )
    factories.make_review_comment(review_round, people["ana"], None, body=ANA_WHOLE)
    factories.make_review_comment(review_round, people["ben"], p1, body=BEN_OWN)
    db.session.commit()
    return review_round, p1


def _pages(client, review_round, p1) -> dict[str, str]:
    base = f"/reviews/rounds/{review_round.id}"
    out = {}
    for name, url in {
        "round": base,
        "thread": f"{base}/comment?p={p1.anchor}",
        "document thread": f"{base}/comment",
        "heard": f"{base}/heard",
    }.items():
        resp = client.get(url)
        assert resp.status_code == 200, (name, resp.status_code)
        out[name] = resp.get_data(as_text=True)
    return out


def test_reviewers_who_do_not_see_each_other_see_only_their_own_everywhere(
    client, factories, people
):
    review_round, p1 = _round(factories, people, see_each_other=False)
    login(client, "ben@b.example")
    for name, page in _pages(client, review_round, p1).items():
        assert ANA_ON_P1 not in page and ANA_WHOLE not in page, name
        assert "Ana Alpha" not in page, name
    assert BEN_OWN in _pages(client, review_round, p1)["heard"]
    # The API answers the same.
    api = client.get(
        f"/api/v1/reviews/rounds/{review_round.id}/comments", headers=token_for(people["ben"], "b")
    ).get_json()
    assert [c["body"] for c in api["comments"]] == [BEN_OWN]
    # Ana's comment cannot be answered by Ben either.
    ana_comment = db.session.scalar(select(Comment).where(Comment.body == ANA_ON_P1))
    reply = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"reply_to": str(ana_comment.id), "body": "I agree", "comment_type": "general"},
    )
    assert reply.status_code == 403


def test_what_we_heard_reports_every_comment_without_names_once_the_round_closed(
    client, factories, people
):
    review_round, _p1 = _round(factories, people, see_each_other=False)
    review_round.status = "closed"
    db.session.commit()
    login(client, "ben@b.example")
    page = client.get(f"/reviews/rounds/{review_round.id}/heard").get_data(as_text=True)
    assert ANA_ON_P1 in page and ANA_WHOLE in page and BEN_OWN in page
    assert "Ana Alpha" not in page and "A reviewer" in page


def test_staff_see_all_comments_and_who_wrote_them(client, factories, people):
    review_round, p1 = _round(factories, people, see_each_other=False)
    login(client, "boss@un.example")
    pages = _pages(client, review_round, p1)
    assert ANA_ON_P1 in pages["thread"] and "Ana Alpha" in pages["thread"]
    assert ANA_ON_P1 in pages["heard"] and "Ana Alpha" in pages["heard"]


def test_anonymous_comments_name_no_one_but_to_staff_on_every_view(client, factories, people):
    review_round, p1 = _round(factories, people, see_each_other=True, anonymous=True)
    login(client, "ben@b.example")
    pages = _pages(client, review_round, p1)
    assert ANA_ON_P1 in pages["thread"] and "Anonymous reviewer" in pages["thread"]
    assert ANA_ON_P1 in pages["heard"] and "Anonymous reviewer" in pages["heard"]
    # Her signed comment on the whole document still names her (only that one is anonymous).
    assert "Ana Alpha" in pages["document thread"]
    heard = pages["heard"]
    anonymous_part = heard[: heard.index(ANA_ON_P1)]
    assert "Ana Alpha" not in anonymous_part[-400:]
    api = client.get(
        f"/api/v1/reviews/rounds/{review_round.id}/comments", headers=token_for(people["ben"], "b")
    ).get_json()
    authors = {c["body"]: c["author"] for c in api["comments"]}
    assert authors[ANA_ON_P1] == "Anonymous reviewer"
    assert authors[ANA_WHOLE].startswith("Ana Alpha")
    client.get("/account/logout")
    # Staff: the name, marked, and its own column in the matrix.
    login(client, "boss@un.example")
    thread = client.get(f"/reviews/rounds/{review_round.id}/comment?p={p1.anchor}")
    assert "Ana Alpha" in thread.get_data(as_text=True)
    assert "anonymous to other reviewers" in thread.get_data(as_text=True)
    matrix = client.get(f"/reviews/rounds/{review_round.id}/matrix.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(matrix.lstrip("\ufeff"))))
    column = rows[0].index("Anonymous to other reviewers")
    marks = {row[6].lstrip("'"): row[column] for row in rows[1:]}
    assert marks[ANA_ON_P1] == "Yes" and marks[ANA_WHOLE] == "" and marks[BEN_OWN] == ""
    by_body = {row[6].lstrip("'"): row[1] for row in rows[1:]}
    assert by_body[ANA_ON_P1] == "Ana Alpha"


@pytest.mark.parametrize("path", ["", "/heard", "/comment"])
def test_people_not_invited_read_nothing(client, factories, people, path):
    review_round, _p1 = _round(factories, people, see_each_other=True)
    outsider = factories.make_user("partner", email="out@x.example")
    db.session.commit()
    assert client.get(f"/reviews/rounds/{review_round.id}{path}").status_code == 302
    login(client, outsider.email)
    assert client.get(f"/reviews/rounds/{review_round.id}{path}").status_code == 403
