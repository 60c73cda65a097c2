"""The JSON comment API: a partner's tool reads the draft and posts comments with a token,
under exactly the rules of the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import ApiToken
from portal.core.models import utcnow
from portal.extensions import db
from portal.reviews.models import Comment
from tests.conftest import login


def token_for(user, raw: str) -> dict[str, str]:
    db.session.add(ApiToken(user_id=user.id, name="tool", token_hash=ApiToken.hash(raw)))
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def comment_count() -> int:
    return db.session.scalar(select(func.count(Comment.id)))


@pytest.fixture
def auth(reviewer):
    return token_for(reviewer, "reviewer-token")


def url(round_) -> str:
    return f"/api/v1/reviews/rounds/{round_.id}/comments"


def test_a_tool_reads_the_draft_and_posts_a_comment_on_paragraph_3(
    client, review_round, reviewer, auth
):
    draft = client.get(f"/api/v1/reviews/rounds/{review_round.id}", headers=auth).get_json()
    assert draft["state"] == "open" and draft["you_may_comment"] is True
    p3 = next(p for p in draft["paragraphs"] if p["number"] == 3)

    resp = client.post(
        url(review_round),
        json={
            "paragraph": "3",
            "body": "Please cite the monitoring guide.",
            "comment_type": "technical",
            "proposed_change": "Add a reference.",
            "quote": p3["text"][:12],
        },
        headers=auth,
    )
    assert resp.status_code == 201, resp.get_json()
    posted = resp.get_json()
    assert posted["paragraph"] == {"anchor": p3["anchor"], "number": 3}
    assert posted["quote"] == p3["text"][:12]
    assert posted["author"].startswith("Rita Reviewer")
    comment = db.session.get(Comment, posted["id"])
    assert comment.author_id == reviewer.id and comment.comment_type == "technical"

    # Replies and comments on the whole document go the same way.
    reply = client.post(
        url(review_round), json={"parent_id": posted["id"], "body": "And ¶4."}, headers=auth
    )
    assert reply.status_code == 201 and reply.get_json()["parent_id"] == posted["id"]
    whole = client.post(url(review_round), json={"body": "Overall fine."}, headers=auth)
    assert whole.status_code == 201 and whole.get_json()["paragraph"] is None

    listed = client.get(url(review_round), headers=auth).get_json()
    assert [c["id"] for c in listed["comments"]] == sorted(c["id"] for c in listed["comments"])
    assert listed["total"] == 3


def test_bad_input_gets_field_errors_and_writes_nothing(client, review_round, auth):
    cases = [
        ({"body": ""}, "body"),
        ({"body": "x", "comment_type": "rant"}, "comment_type"),
        ({"body": "x", "paragraph": "999"}, "paragraph"),
        ({"body": "x", "paragraph": "9" * 40}, "paragraph"),
        ({"body": "x", "paragraph": "²"}, "paragraph"),
        ({"body": 42}, "body"),
        ({"body": "x", "anonymous": "yes"}, "anonymous"),
        ({"body": "x", "parent_id": 10**12}, "parent_id"),
        ({"body": "x", "parent_id": True}, "parent_id"),
        ({"body": "x", "paragraph": "3", "quote": "not in the text at all"}, "quote"),
        ({"body": "x" * 20_001}, "body"),
    ]
    for payload, field in cases:
        resp = client.post(url(review_round), json=payload, headers=auth)
        assert resp.status_code == 400, (payload, resp.get_data(as_text=True))
        assert field in resp.get_json()["errors"], (payload, resp.get_json())
    not_json = client.post(url(review_round), data="body=x", headers=auth)
    assert not_json.status_code == 400
    array = client.post(url(review_round), json=["body"], headers=auth)
    assert array.status_code == 400
    assert comment_count() == 0


def test_nul_characters_are_dropped_not_a_500(client, review_round, auth):
    resp = client.post(url(review_round), json={"body": "clean\x00text"}, headers=auth)
    assert resp.status_code == 201
    assert resp.get_json()["body"] == "cleantext"


def test_only_invited_reviewers_with_a_token_may_post(client, review_round, outsider, reviewer):
    outsider_auth = token_for(outsider, "outsider-token")
    denied = client.post(url(review_round), json={"body": "Let me in."}, headers=outsider_auth)
    assert denied.status_code == 403
    assert client.get(url(review_round), headers=outsider_auth).status_code == 403

    # The session cookie is not enough to post: a cross-site page could use it.
    login(client, reviewer.email)
    assert client.post(url(review_round), json={"body": "Cookie only."}).status_code == 401
    bad = client.post(
        url(review_round), json={"body": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    assert comment_count() == 0
    assert client.get("/api/v1/reviews/rounds/987654/comments").status_code == 404


def test_after_the_deadline_posting_is_refused_with_409(client, review_round, auth):
    review_round.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    resp = client.post(url(review_round), json={"body": "Too late."}, headers=auth)
    assert resp.status_code == 409
    assert "closed" in resp.get_json()["error"]["message"].lower()
    assert comment_count() == 0


def test_reviewers_see_only_what_the_pages_show_them(
    client, review_round, reviewer, other_reviewer, staff, auth
):
    other_auth = token_for(other_reviewer, "other-token")
    review_round.allow_anonymous = True
    db.session.commit()
    rita = {"body": "Rita's view.", "anonymous": True}
    assert client.post(url(review_round), json=rita, headers=auth).status_code == 201
    omar = {"body": "Omar's view."}
    assert client.post(url(review_round), json=omar, headers=other_auth).status_code == 201

    review_round.reviewers_see_each_other = False
    db.session.commit()
    mine = client.get(url(review_round), headers=auth).get_json()
    assert [c["body"] for c in mine["comments"]] == ["Rita's view."]

    review_round.reviewers_see_each_other = True
    db.session.commit()
    seen_by_omar = client.get(url(review_round), headers=other_auth).get_json()["comments"]
    ritas = next(c for c in seen_by_omar if c["body"] == "Rita's view.")
    assert "Rita" not in ritas["author"]  # anonymous to other reviewers
    staff_view = client.get(url(review_round), headers=token_for(staff, "staff-token"))
    ritas_for_staff = next(c for c in staff_view.get_json()["comments"] if "Rita's" in c["body"])
    assert ritas_for_staff["author"].startswith("Rita Reviewer")  # never anonymous to staff
