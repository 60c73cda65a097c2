"""Commenting in a review round: on a paragraph, a quoted passage, the whole document; replies;
edit and withdraw; the deadline; who may comment; moderation; anonymity and visibility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from portal.reviews.jobs import run_pending_jobs
from portal.reviews.models import Comment, Paragraph, ReviewRound
from tests.conftest import login
from tests.reviews.conftest import open_emails_round, publish_seed

pytest_plugins = ["tests.smtp"]


def para(round_, number) -> Paragraph:
    return db.session.scalar(
        select(Paragraph).where(
            Paragraph.version_id == round_.version_id, Paragraph.number == number
        )
    )


def post(client, round_, *, p=None, **data):
    form = {"comment_type": "general", "body": "A comment."}
    form.update(data)
    if p is not None:
        form["paragraph"] = p.anchor
    return client.post(f"/reviews/rounds/{round_.id}/comment", data=form)


def test_reviewer_comments_on_a_paragraph_with_a_proposed_change(client, review_round, reviewer):
    login(client, reviewer.email)
    p3 = para(review_round, 3)
    page = client.get(f"/reviews/rounds/{review_round.id}").get_data(as_text=True)
    # Every paragraph offers a keyboard-reachable link to comment on it.
    assert f'href="/reviews/rounds/{review_round.id}/comment?p={p3.anchor}"' in page
    resp = post(
        client,
        review_round,
        p=p3,
        comment_type="technical",
        body="优先指标应列出。",
        proposed_change="在第 3 段末尾增加优先指标清单。",
    )
    assert resp.status_code == 302
    comment = db.session.scalar(select(Comment))
    assert (comment.paragraph_id, comment.comment_type, comment.author_id) == (
        p3.id,
        "technical",
        reviewer.id,
    )
    assert comment.proposed_change == "在第 3 段末尾增加优先指标清单。"
    assert comment.organization_id == reviewer.organization_id
    # The count shows beside the paragraph.
    page = client.get(f"/reviews/rounds/{review_round.id}").get_data(as_text=True)
    assert '>1 comment<span class="visually-hidden"> (paragraph 3)</span></a>' in page
    thread = client.get(f"/reviews/rounds/{review_round.id}/comment?p={p3.anchor}").get_data(
        as_text=True
    )
    assert "优先指标应列出。" in thread and "在第 3 段末尾增加优先指标清单。" in thread


def test_comment_on_a_quoted_passage_typed_without_javascript(client, review_round, reviewer):
    login(client, reviewer.email)
    p39 = para(review_round, 39)
    resp = post(client, review_round, p=p39, quote="8 000 多个合作伙伴", body="请给出确切数字。")
    assert resp.status_code == 302
    comment = db.session.scalar(select(Comment))
    assert comment.quoted_text == "8 000 多个合作伙伴"
    assert p39.text[comment.quote_start : comment.quote_end] == "8 000 多个合作伙伴"


def test_quote_prefilled_from_a_selection_and_offsets_from_the_browser(
    client, review_round, reviewer
):
    login(client, reviewer.email)
    p39 = para(review_round, 39)
    form = client.get(
        f"/reviews/rounds/{review_round.id}/comment?p={p39.anchor}&quote=波兰卡托维兹"
    )
    assert "波兰卡托维兹</textarea>" in form.get_data(as_text=True)
    start = p39.text.index("世界城市论坛")
    resp = post(
        client,
        review_round,
        p=p39,
        quote="",
        quote_start=str(start),
        quote_end=str(start + 6),
        body="Name the Forum in full.",
    )
    assert resp.status_code == 302
    assert db.session.scalar(select(Comment.quoted_text)) == "世界城市论坛"


def test_a_quote_not_in_the_paragraph_is_refused_and_nothing_is_saved(
    client, review_round, reviewer
):
    login(client, reviewer.email)
    resp = post(client, review_round, p=para(review_round, 3), quote="this text is elsewhere")
    assert resp.status_code == 400
    assert "does not occur in paragraph 3" in resp.get_data(as_text=True)
    assert db.session.query(Comment).count() == 0


def test_comment_on_the_whole_document_and_a_reply(client, review_round, reviewer, staff):
    login(client, reviewer.email)
    assert post(client, review_round, body="The report is clear overall.").status_code == 302
    top = db.session.scalar(select(Comment))
    assert top.paragraph_id is None
    login(client, staff.email)
    resp = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"reply_to": str(top.id), "comment_type": "general", "body": "Thank you."},
    )
    assert resp.status_code == 302
    reply = db.session.scalar(select(Comment).where(Comment.parent_id == top.id))
    assert reply.author_id == staff.id
    login(client, reviewer.email)
    page = client.get(f"/reviews/rounds/{review_round.id}/comment").get_data(as_text=True)
    assert "The report is clear overall." in page and "Thank you." in page


def test_edit_and_withdraw_own_comment_until_the_deadline(
    client, review_round, reviewer, other_reviewer
):
    login(client, reviewer.email)
    post(client, review_round, p=para(review_round, 5), body="First wording.")
    comment = db.session.scalar(select(Comment))
    resp = client.post(
        f"/reviews/comments/{comment.id}/edit",
        data={"comment_type": "editorial", "body": "Better wording."},
    )
    assert resp.status_code == 302
    db.session.refresh(comment)
    assert (comment.body, comment.comment_type) == ("Better wording.", "editorial")
    # Nobody else may edit it.
    login(client, other_reviewer.email)
    assert (
        client.post(
            f"/reviews/comments/{comment.id}/edit",
            data={"comment_type": "general", "body": "Hijack"},
        ).status_code
        == 403
    )
    login(client, reviewer.email)
    assert client.post(f"/reviews/comments/{comment.id}/withdraw").status_code == 302
    db.session.refresh(comment)
    assert comment.status == "withdrawn"


def test_after_the_deadline_commenting_is_closed_with_a_clear_message(
    client, review_round, reviewer
):
    login(client, reviewer.email)
    post(client, review_round, p=para(review_round, 5), body="Before the deadline.")
    comment = db.session.scalar(select(Comment))
    review_round.opens_at = utcnow() - timedelta(days=20)
    review_round.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    resp = post(client, review_round, p=para(review_round, 6), body="Too late.")
    assert resp.status_code == 409
    assert "Commenting closed on" in resp.get_data(as_text=True)
    page = client.get(f"/reviews/rounds/{review_round.id}").get_data(as_text=True)
    assert "Commenting closed on" in page
    assert "Comment on this paragraph" not in page
    edit = client.post(
        f"/reviews/comments/{comment.id}/edit",
        data={"comment_type": "general", "body": "Changed late."},
    )
    assert edit.status_code == 409
    client.post(f"/reviews/comments/{comment.id}/withdraw")
    db.session.refresh(comment)
    assert (comment.body, comment.status) == ("Before the deadline.", "active")
    assert db.session.query(Comment).count() == 1


def test_before_opening_commenting_has_not_started(client, review_round, reviewer):
    review_round.opens_at = utcnow() + timedelta(days=1)
    db.session.commit()
    login(client, reviewer.email)
    resp = post(client, review_round, body="Early.")
    assert resp.status_code == 409
    assert "has not opened yet" in resp.get_data(as_text=True)
    assert db.session.query(Comment).count() == 0


def test_a_user_not_invited_gets_403(client, review_round, outsider):
    login(client, outsider.email)
    assert client.get(f"/reviews/rounds/{review_round.id}").status_code == 403
    assert post(client, review_round, p=para(review_round, 3)).status_code == 403
    assert db.session.query(Comment).count() == 0
    document_id = review_round.version.document_id
    assert client.get(f"/reviews/documents/{document_id}/versions/1").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, review_round):
    resp = client.get(f"/reviews/rounds/{review_round.id}")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def test_moderation_hides_a_comment_and_mails_the_author(
    client, review_round, reviewer, staff, smtp_server
):
    login(client, reviewer.email)
    post(client, review_round, p=para(review_round, 7), body="Off-topic advertising.")
    comment = db.session.scalar(select(Comment))
    login(client, reviewer.email)
    assert (
        client.post(f"/reviews/comments/{comment.id}/hide", data={"reason": "x"}).status_code == 403
    )
    login(client, staff.email)
    resp = client.post(
        f"/reviews/comments/{comment.id}/hide",
        data={"reason": "Advertising is not allowed."},
        follow_redirects=True,
    )
    assert resp.status_code == 200
    db.session.refresh(comment)
    assert (comment.status, comment.hidden_reason) == ("hidden", "Advertising is not allowed.")
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == reviewer.email
    text = smtp_server.text(mail)
    assert "Advertising is not allowed." in text and "Off-topic advertising." in text


def test_hiding_needs_a_reason(client, review_round, reviewer, staff):
    login(client, reviewer.email)
    post(client, review_round, body="Fine comment.")
    comment = db.session.scalar(select(Comment))
    login(client, staff.email)
    resp = client.post(f"/reviews/comments/{comment.id}/hide", data={"reason": ""})
    assert resp.status_code == 400
    db.session.refresh(comment)
    assert comment.status == "active"
    assert (
        db.session.query(OutgoingMail).filter(OutgoingMail.category.like("review-hidden%")).count()
        == 0
    )


def _visibility_round(seed_markdown, staff, a, b, **kw):
    _doc, version = publish_seed(seed_markdown, staff, title="Visibility test")
    round_ = open_emails_round(version, staff, [a.email, b.email], **kw)
    db.session.commit()
    run_pending_jobs()
    return round_


def test_reviewers_do_not_see_each_other_unless_the_round_allows_it(
    client, seed_markdown, staff, reviewer, other_reviewer
):
    closed = _visibility_round(seed_markdown, staff, reviewer, other_reviewer)
    login(client, reviewer.email)
    post(client, closed, p=para(closed, 3), body="Rita private view.")
    login(client, other_reviewer.email)
    page = client.get(f"/reviews/rounds/{closed.id}/comment?p={para(closed, 3).anchor}").get_data(
        as_text=True
    )
    assert "Rita private view." not in page
    assert ">1 comment<span" not in client.get(f"/reviews/rounds/{closed.id}").get_data(
        as_text=True
    )
    login(client, staff.email)
    page = client.get(f"/reviews/rounds/{closed.id}/comment?p={para(closed, 3).anchor}").get_data(
        as_text=True
    )
    assert "Rita private view." in page

    shared = _visibility_round(
        seed_markdown, staff, reviewer, other_reviewer, reviewers_see_each_other=True
    )
    login(client, reviewer.email)
    post(client, shared, p=para(shared, 3), body="Rita shared view.")
    login(client, other_reviewer.email)
    page = client.get(f"/reviews/rounds/{shared.id}/comment?p={para(shared, 3).anchor}").get_data(
        as_text=True
    )
    assert "Rita shared view." in page and "Rita Reviewer" in page


def test_anonymous_comments_hide_the_name_from_reviewers_not_from_staff(
    client, seed_markdown, staff, reviewer, other_reviewer
):
    round_ = _visibility_round(
        seed_markdown,
        staff,
        reviewer,
        other_reviewer,
        reviewers_see_each_other=True,
        allow_anonymous=True,
    )
    login(client, reviewer.email)
    assert (
        post(client, round_, p=para(round_, 4), body="Quietly critical.", anonymous="y").status_code
        == 302
    )
    url = f"/reviews/rounds/{round_.id}/comment?p={para(round_, 4).anchor}"
    login(client, other_reviewer.email)
    page = client.get(url).get_data(as_text=True)
    assert (
        "Quietly critical." in page and "Anonymous reviewer" in page and "Rita Reviewer" not in page
    )
    login(client, staff.email)
    page = client.get(url).get_data(as_text=True)
    assert "Rita Reviewer" in page and "anonymous to other reviewers" in page


def test_anonymity_refused_when_the_round_does_not_allow_it(client, review_round, reviewer):
    login(client, reviewer.email)
    resp = post(client, review_round, body="Hidden name please.", anonymous="y")
    assert resp.status_code == 400
    assert "does not allow anonymous comments" in resp.get_data(as_text=True)
    assert db.session.query(Comment).count() == 0


def test_paragraph_of_another_version_is_not_accepted(
    client, review_round, reviewer, staff, seed_markdown
):
    _doc, other_version = publish_seed(seed_markdown, staff, title="Another draft")
    db.session.commit()
    foreign = db.session.scalar(select(Paragraph).where(Paragraph.version_id == other_version.id))
    login(client, reviewer.email)
    assert post(client, review_round, p=foreign).status_code == 404
    assert db.session.query(Comment).count() == 0


@pytest.mark.parametrize(
    "field, value, message",
    [("body", "", "Write your comment."), ("comment_type", "rant", "Not a valid choice")],
)
def test_invalid_comment_fields_are_explained(
    client, review_round, reviewer, field, value, message
):
    login(client, reviewer.email)
    resp = post(client, review_round, **{field: value})
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert db.session.query(Comment).count() == 0
    assert db.session.query(ReviewRound).count() == 1
