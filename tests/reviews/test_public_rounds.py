"""Issue 11 item 2: public consultations. A round whose audience is "the public" is readable
without an account (the draft, its paragraph numbers, the published comments per the round's
anonymity rules, the answers and "what we heard", pages and JSON API); commenting needs an
account. Invitation-only rounds and draft rounds stay closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.models import utcnow
from portal.extensions import db
from portal.reviews.models import Comment
from tests.conftest import login

NAMED = "The housing targets in paragraph one are too low."
HIDDEN_NAME = "Anonymous remark on paragraph one."
WITHDRAWN = "I take this back."
PRIVATE_REMARK = "Invitation-only remark."


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


@pytest.fixture
def public(factories, people):
    version = factories.make_review_version(
        ["First paragraph of the draft.", "Second paragraph."], title="Public draft"
    )
    review_round = factories.make_review_round(
        version,
        title="Public consultation",
        audience_kind="public",
        public=True,
        reviewers_see_each_other=True,
        allow_anonymous=True,
    )
    p1 = version.paragraphs[0]
    named = factories.make_review_comment(review_round, people["ana"], p1, body=NAMED)
    factories.make_review_comment(review_round, people["ana"], p1, body=HIDDEN_NAME, anonymous=True)
    factories.make_review_comment(
        review_round, people["ana"], p1, body=WITHDRAWN, status="withdrawn"
    )
    from portal.reviews.dispositions import dispose_comment

    dispose_comment(
        named, people["staff"], decision="accepted-in-part", response="We raised the targets."
    )
    db.session.commit()
    return review_round, p1


@pytest.fixture
def private(factories, people):
    version = factories.make_review_version(["Closed text."], title="Closed draft")
    review_round = factories.make_review_round(
        version, invited=[people["ana"]], reviewers_see_each_other=True
    )
    factories.make_review_comment(
        review_round, people["ana"], version.paragraphs[0], body=PRIVATE_REMARK
    )
    db.session.commit()
    return review_round


def test_a_visitor_reads_the_draft_comments_answers_and_heard(client, public):
    review_round, p1 = public
    base = f"/reviews/rounds/{review_round.id}"
    page = client.get(base)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "First paragraph of the draft." in html and 'data-number="1"' in html
    assert "Sign in to comment" in html
    thread = client.get(f"{base}/comment?p={p1.anchor}").get_data(as_text=True)
    assert NAMED in thread and "Ana Alpha" in thread
    assert HIDDEN_NAME in thread
    assert WITHDRAWN not in thread
    heard = client.get(f"{base}/heard")
    assert heard.status_code == 200
    heard_html = heard.get_data(as_text=True)
    assert NAMED in heard_html and "We raised the targets." in heard_html
    assert WITHDRAWN not in heard_html
    index = client.get("/reviews/").get_data(as_text=True)
    assert "Public consultation" in index
    document = review_round.version.document
    assert client.get(f"/reviews/documents/{document.id}/versions/1").status_code == 200


def test_anonymity_is_kept_for_visitors(client, public):
    review_round, p1 = public
    thread = client.get(f"/reviews/rounds/{review_round.id}/comment?p={p1.anchor}")
    html = thread.get_data(as_text=True)
    # One named comment by Ana; her anonymous one does not carry her name.
    assert html.count("Ana Alpha") == 1
    assert "Anonymous reviewer" in html


def test_the_api_reads_a_public_round_without_a_token(client, public):
    review_round, _p1 = public
    info = client.get(f"/api/v1/reviews/rounds/{review_round.id}")
    assert info.status_code == 200
    assert info.get_json()["you_may_comment"] is False
    comments = client.get(f"/api/v1/reviews/rounds/{review_round.id}/comments").get_json()
    bodies = {c["body"]: c for c in comments["comments"]}
    assert NAMED in bodies and HIDDEN_NAME in bodies and WITHDRAWN not in bodies
    assert "Ana" not in bodies[HIDDEN_NAME]["author"]


def test_a_visitor_cannot_post_and_is_sent_to_sign_in_back_to_the_paragraph(client, public):
    review_round, p1 = public
    before = db.session.scalar(select(db.func.count(Comment.id)))
    answer = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"paragraph": p1.anchor, "body": "From a visitor", "comment_type": "general"},
    )
    assert answer.status_code == 302
    assert "/account/login" in answer.location
    assert p1.anchor in answer.location  # next= back to the paragraph's comment form
    api = client.post(
        f"/api/v1/reviews/rounds/{review_round.id}/comments", json={"body": "From a visitor"}
    )
    assert api.status_code == 401
    assert db.session.scalar(select(db.func.count(Comment.id))) == before


def test_any_account_may_comment_on_an_open_public_round(client, public, people):
    review_round, p1 = public
    login(client, people["ben"].email)  # not invited: the round is public
    form = client.get(f"/reviews/rounds/{review_round.id}/comment?p={p1.anchor}")
    assert "Save comment" in form.get_data(as_text=True)
    answer = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"paragraph": p1.anchor, "body": "Ben's public remark", "comment_type": "general"},
    )
    assert answer.status_code == 302
    assert db.session.scalar(select(Comment).where(Comment.body == "Ben's public remark"))


def test_a_closed_public_round_stays_readable_but_takes_no_comments(client, public, people):
    review_round, p1 = public
    review_round.closes_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert client.get(f"/reviews/rounds/{review_round.id}").status_code == 200
    login(client, people["ben"].email)
    answer = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"paragraph": p1.anchor, "body": "Too late", "comment_type": "general"},
    )
    assert answer.status_code == 409


def test_invitation_only_rounds_stay_closed(client, private, people):
    base = f"/reviews/rounds/{private.id}"
    # A visitor is asked to sign in; the API answers 401; nothing of the round is shown.
    for url in (base, f"{base}/heard", f"{base}/comment"):
        answer = client.get(url)
        assert answer.status_code == 302 and "/account/login" in answer.location
    assert client.get(f"/api/v1/reviews/rounds/{private.id}/comments").status_code == 401
    assert "Closed draft" not in client.get("/reviews/").get_data(as_text=True)
    document = private.version.document
    assert client.get(f"/reviews/documents/{document.id}").status_code == 302
    # A signed-in account that is not invited: 403 (round), 404 (document), as before.
    login(client, people["ben"].email)
    assert client.get(base).status_code == 403
    assert client.get(f"/reviews/documents/{document.id}").status_code == 404
    assert client.get(f"/api/v1/reviews/rounds/{private.id}/comments").status_code == 403


def test_a_draft_public_round_stays_closed(client, factories, people):
    version = factories.make_review_version(["Not yet."], title="Unopened draft")
    draft = factories.make_review_round(
        version, audience_kind="public", public=True, status="draft"
    )
    db.session.commit()
    answer = client.get(f"/reviews/rounds/{draft.id}")
    assert answer.status_code == 302
    assert "Unopened draft" not in client.get("/reviews/").get_data(as_text=True)


def test_staff_open_a_public_round_from_the_form(client, people, factories):
    version = factories.make_review_version(["Text."], title="To consult")
    db.session.commit()
    login(client, people["staff"].email)
    document = version.document
    url = f"/reviews/documents/{document.id}/versions/1/rounds/new"
    assert "The public" in client.get(url).get_data(as_text=True)
    opens = utcnow() - timedelta(hours=1)
    closes = utcnow() + timedelta(days=5)
    answer = client.post(
        url,
        data={
            "title": "Open to all",
            "audience_kind": "public",
            "opens_at": opens.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": closes.strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
            "reminder_days": "3",
            "reviewers_see_each_other": "y",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    from portal.reviews.models import ReviewRound

    opened = db.session.scalar(select(ReviewRound).where(ReviewRound.title == "Open to all"))
    assert opened.public and opened.audience_kind == "public"
    client.post("/account/logout")
    assert client.get(f"/reviews/rounds/{opened.id}").status_code == 200


def _link_in(mail) -> str:
    import re

    return re.search(r"/reviews/r/[A-Za-z0-9_-]+", mail.body_text).group(0)


def test_a_visitor_gets_an_account_from_the_round_page(client, public):
    """Item 2: the visitor asks on the round page (terms accepted), confirms the address by
    following the e-mailed link, creates the account and comments on the open round."""
    from portal.accounts.models import User
    from portal.notifications.models import OutgoingMail

    review_round, p1 = public
    url = f"/reviews/rounds/{review_round.id}/join"
    assert "Send me a link to take part" in client.get(f"/reviews/rounds/{review_round.id}").text
    refused = client.post(url, data={"email": "new@visitor.example"})
    assert refused.status_code == 400 and "Accept the consultation" in refused.text
    refused = client.post(url, data={"email": "not an address", "accept_terms": "y"})
    assert refused.status_code == 400
    invitations = select(OutgoingMail).where(
        OutgoingMail.category == f"review-join:{review_round.id}"
    )
    assert db.session.scalars(invitations).all() == []
    sent = client.post(url, data={"email": "New@Visitor.example", "accept_terms": "y"})
    assert sent.status_code == 302
    # Asking again sends nothing more (and says the same).
    assert (
        client.post(url, data={"email": "new@visitor.example", "accept_terms": "y"}).status_code
        == 302
    )
    mails = db.session.scalars(invitations).all()
    assert [m.to_address for m in mails] == ["new@visitor.example"]
    assert db.session.scalar(select(User).where(User.email == "new@visitor.example")) is None
    link = _link_in(mails[0])
    welcome = client.get(link)
    assert welcome.status_code == 200
    created = client.post(link, data={})
    assert created.status_code in (200, 302)
    assert db.session.scalar(select(User).where(User.email == "new@visitor.example")) is not None


def test_joining_is_refused_on_private_and_closed_rounds(client, private, public):
    from portal.notifications.models import OutgoingMail

    answer = client.post(
        f"/reviews/rounds/{private.id}/join", data={"email": "x@y.example", "accept_terms": "y"}
    )
    assert answer.status_code == 302 and "/account/login" in answer.location
    review_round, _p1 = public
    review_round.closes_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    answer = client.post(
        f"/reviews/rounds/{review_round.id}/join",
        data={"email": "x@y.example", "accept_terms": "y"},
    )
    assert answer.status_code == 400 and "not open for comments" in answer.text
    sent_to = db.session.scalars(select(OutgoingMail.to_address)).all()
    assert "x@y.example" not in sent_to


def test_asking_to_take_part_is_rate_limited(client, app, public, monkeypatch):
    monkeypatch.setitem(app.config, "REVIEW_JOIN_RATE_LIMIT", "2 per minute")
    review_round, _p1 = public
    url = f"/reviews/rounds/{review_round.id}/join"
    for n in range(2):
        answer = client.post(url, data={"email": f"v{n}@visitor.example", "accept_terms": "y"})
        assert answer.status_code == 302
    answer = client.post(url, data={"email": "v9@visitor.example", "accept_terms": "y"})
    assert answer.status_code == 429


# --- The visitor's own e-mail (not the invitation's wording) ------------------------------------


def _join_mail(client, review_round, email, **headers):
    from portal.notifications.models import OutgoingMail

    answer = client.post(
        f"/reviews/rounds/{review_round.id}/join",
        data={"email": email, "accept_terms": "y"},
        headers=headers,
    )
    assert answer.status_code == 302
    return db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.to_address == email).order_by(OutgoingMail.id)
    ).all()


def test_the_join_mail_says_what_was_asked_the_terms_and_the_expiry(client, public):
    review_round, _p1 = public
    [mail] = _join_mail(client, review_round, "visitor@v.example")
    assert mail.subject == "Confirm your address to comment on “Public draft”"
    for body in (mail.body_text, mail.body_html):
        assert "invited" not in body  # not the invitation's wording
        assert "You asked" in body and "public consultation “Public consultation”" in body
        assert "The terms you accepted:" in body
        assert "I accept the terms of this consultation" in body
        assert "The link expires on" in body
        assert "/reviews/r/" in body
    assert "Confirm my address" in mail.body_html


@pytest.mark.parametrize(
    ("lang", "subject_word", "terms_word", "expiry_word"),
    [
        ("fr", "Confirmez", "J'accepte", "expire"),
        ("es", "Confirme", "Acepto", "caduca"),
        ("ru", "Подтвердите", "Я принимаю", "действует до"),
        ("zh", "确认", "我接受", "失效"),
        ("ar", "أكِّد", "أقبل", "تنتهي"),
    ],
)
def test_the_join_mail_is_in_the_visitor_s_language(
    client, public, lang, subject_word, terms_word, expiry_word
):
    review_round, _p1 = public
    [mail] = _join_mail(client, review_round, f"{lang}@v.example", **{"Accept-Language": lang})
    assert subject_word in mail.subject
    assert terms_word in mail.body_text and expiry_word in mail.body_text
    assert "Public consultation" in mail.body_text
    if lang == "ar":
        assert 'dir="rtl"' in mail.body_html


def test_an_expired_join_link_is_refused_and_a_new_one_can_be_asked(client, app, public):
    from portal.accounts.models import User

    review_round, _p1 = public
    [first] = _join_mail(client, review_round, "late@v.example")
    link = _link_in(first)
    from portal.reviews.models import ReviewInvitation

    invitation = db.session.scalar(
        select(ReviewInvitation).where(ReviewInvitation.email == "late@v.example")
    )
    invitation.link_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    answer = client.get(link)
    assert answer.status_code == 410 and "This link has expired" in answer.text
    assert client.post(link, data={}).status_code == 410
    assert db.session.scalar(select(User).where(User.email == "late@v.example")) is None
    # Asking again sends the link again, valid for another week.
    mails = _join_mail(client, review_round, "late@v.example")
    assert len(mails) == 2 and _link_in(mails[1]) == link
    assert client.get(link).status_code == 200


# --- "The public" together with invited reviewers ----------------------------------------------


def test_staff_open_a_round_to_invited_groups_and_the_public(client, people, factories):
    from portal.consultations.models import AdvisoryGroup, GroupMember
    from portal.reviews.jobs import run_pending_jobs
    from portal.reviews.models import ReviewInvitation, ReviewRound

    group = AdvisoryGroup(name="Youth Advisory Board")
    db.session.add(group)
    db.session.flush()
    db.session.add(GroupMember(group_id=group.id, user_id=people["ana"].id))
    version = factories.make_review_version(["Text to consult."], title="Mixed audience")
    db.session.commit()
    login(client, people["staff"].email)
    url = f"/reviews/documents/{version.document_id}/versions/1/rounds/new"
    form = client.get(url).get_data(as_text=True)
    assert 'name="also_public"' in form
    answer = client.post(
        url,
        data={
            "title": "Board and public",
            "audience_kind": "groups",
            "group_ids": str(group.id),
            "also_public": "y",
            "opens_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (utcnow() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
            "reminder_days": "3",
            "reviewers_see_each_other": "y",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    opened = db.session.scalar(select(ReviewRound).where(ReviewRound.title == "Board and public"))
    assert opened.public and opened.audience_kind == "mixed"
    assert [part["kind"] for part in opened.audience["parts"]] == ["groups", "public"]
    # The board's members are invited …
    run_pending_jobs()
    invited = db.session.scalars(
        select(ReviewInvitation.email).where(ReviewInvitation.round_id == opened.id)
    ).all()
    assert invited == ["ana@a.example"]
    client.post("/account/logout")
    # … anyone may read …
    assert client.get(f"/reviews/rounds/{opened.id}").status_code == 200
    # … and any account may comment.
    login(client, "ben@b.example")
    p1 = opened.version.paragraphs[0]
    answer = client.post(
        f"/reviews/rounds/{opened.id}/comment",
        data={"paragraph": p1.anchor, "body": "From the public.", "comment_type": "general"},
    )
    assert answer.status_code == 302
    assert db.session.scalar(select(Comment).where(Comment.body == "From the public."))


def test_without_the_public_box_the_round_stays_invitation_only(client, people, factories):
    from portal.reviews.models import ReviewRound

    version = factories.make_review_version(["Private text."], title="Partners only")
    db.session.commit()
    login(client, people["staff"].email)
    url = f"/reviews/documents/{version.document_id}/versions/1/rounds/new"
    answer = client.post(
        url,
        data={
            "title": "Partners only",
            "audience_kind": "all-partners",
            "opens_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (utcnow() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
            "reminder_days": "3",
        },
    )
    assert answer.status_code == 302
    opened = db.session.scalar(select(ReviewRound).where(ReviewRound.title == "Partners only"))
    assert not opened.public and opened.audience_kind == "all-partners"
    client.post("/account/logout")
    assert client.get(f"/reviews/rounds/{opened.id}").status_code in (302, 401)
