"""Steering a round after it opened (issue 11 item 3): add reviewers (any mix), move the
deadline, close early, reopen — each through the staff page, audited, reviewers told."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.consultations.models import AdvisoryGroup, GroupMember
from portal.core.audit import AuditLog
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from portal.reviews.jobs import run_pending_jobs
from portal.reviews.models import ReviewInvitation, ReviewRound
from portal.reviews.steering import deadline_in_zone
from tests.conftest import login


def _audit(round_, action):
    return db.session.scalars(
        select(AuditLog).where(
            AuditLog.action == action,
            AuditLog.object_type == "reviewround",
            AuditLog.object_id == round_.id,
        )
    ).all()


def _mails(category):
    return db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.category == category).order_by(OutgoingMail.id)
    ).all()


def _local(round_, delta):
    """A wall-clock time in the round's zone, as the form's datetime-local field sends it."""
    return (deadline_in_zone(round_) + delta).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def staff_client(client, staff, review_round):
    login(client, staff.email)
    return client


def test_staff_add_reviewers_from_a_group_organisations_and_a_list_at_once(
    staff_client, review_round, factories, reviewer
):
    group = AdvisoryGroup(name="Youth Advisory Board")
    db.session.add(group)
    db.session.flush()
    member = factories.make_user("partner", email="youth@p.example")
    db.session.add(GroupMember(group_id=group.id, user_id=member.id))
    peru = factories.make_org("Lima city", country="PE", regions=("005",), org_type="11")
    factories.make_user("partner", organization=peru, email="lima@p.example")
    db.session.commit()
    csv = b"email\nnew.person@ngo.example\n" + reviewer.email.encode() + b"\n"
    resp = staff_client.post(
        f"/reviews/rounds/{review_round.id}/reviewers",
        data={
            "group_ids": [str(group.id)],
            "org_types": ["11"],
            "emails_file": (io.BytesIO(csv), "more.csv"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302 and f"/rounds/{review_round.id}/invitations" in resp.location
    run_pending_jobs()
    invited = set(
        db.session.scalars(
            select(ReviewInvitation.email).where(ReviewInvitation.round_id == review_round.id)
        )
    )
    assert invited == {
        "reviewer@partner.example",
        "other@partner.example",
        "youth@p.example",
        "lima@p.example",
        "new.person@ngo.example",
    }
    # Only the three newcomers got an invitation now; the reviewer already invited did not.
    invitations = _mails(f"review-invitation:{review_round.id}")
    assert len(invitations) == 5
    assert sorted(m.to_address for m in invitations[2:]) == [
        "lima@p.example",
        "new.person@ngo.example",
        "youth@p.example",
    ]
    (entry,) = _audit(review_round, "add-reviewers")
    assert entry.actor_id is not None and "groups" in entry.summary
    added = {part["kind"]: part for part in entry.after["added"]}
    assert added["groups"]["group_ids"] == [group.id]
    assert added["organizations"]["org_types"] == ["11"]
    assert added["emails"]["emails"] == 2  # how many; the addresses are in the invitations
    # The page says the invitations are going out.
    page = staff_client.get(resp.location).get_data(as_text=True)
    assert "Reviewers added" in page


def test_adding_reviewers_needs_someone_and_a_clean_list(staff_client, review_round):
    url = f"/reviews/rounds/{review_round.id}/reviewers"
    resp = staff_client.post(url, data={})
    assert resp.status_code == 400
    assert "Choose advisory groups, organisations or a list of addresses." in resp.get_data(
        as_text=True
    )
    bad = staff_client.post(
        url,
        data={"emails_file": (io.BytesIO(b"ok@ngo.example\nnot an address\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400
    assert "not valid e-mail addresses" in bad.get_data(as_text=True)
    assert _audit(review_round, "add-reviewers") == []


def test_extending_the_deadline_tells_reviewers_and_lets_them_be_reminded_again(
    staff_client, review_round, reviewer, other_reviewer
):
    # The other reviewer was reminded already, and the reviewer stopped this round's e-mail.
    db.session.execute(
        ReviewInvitation.__table__.update()
        .where(ReviewInvitation.email == other_reviewer.email)
        .values(reminded_at=utcnow())
    )
    db.session.execute(
        ReviewInvitation.__table__.update()
        .where(ReviewInvitation.email == reviewer.email)
        .values(unsubscribed_at=utcnow())
    )
    db.session.commit()
    old = as_utc(review_round.closes_at)
    resp = staff_client.post(
        f"/reviews/rounds/{review_round.id}/deadline",
        data={"closes_at": _local(review_round, timedelta(days=7))},
    )
    assert resp.status_code == 302
    db.session.refresh(review_round)
    moved = as_utc(review_round.closes_at) - old  # the form has minutes, not seconds
    assert timedelta(days=7) - timedelta(minutes=1) < moved <= timedelta(days=7)
    (mail,) = _mails(f"review-deadline:{review_round.id}")
    assert mail.to_address == other_reviewer.email  # the unsubscribed reviewer is not written to
    assert "Comments now close on" in mail.body_text and "/reviews/r/" in mail.body_text
    assert (
        db.session.scalar(
            select(ReviewInvitation.reminded_at).where(
                ReviewInvitation.email == other_reviewer.email
            )
        )
        is None
    )
    (entry,) = _audit(review_round, "change-deadline")
    assert "extended" in entry.summary
    assert entry.before["closes_at"] != entry.after["closes_at"]


def test_shortening_the_deadline_tells_reviewers_and_refuses_a_time_in_the_past(
    staff_client, review_round, reviewer, other_reviewer
):
    url = f"/reviews/rounds/{review_round.id}/deadline"
    past = staff_client.post(url, data={"closes_at": _local(review_round, -timedelta(days=30))})
    assert past.status_code == 400
    assert "The closing time is in the past." in past.get_data(as_text=True)
    assert _mails(f"review-deadline:{review_round.id}") == []
    resp = staff_client.post(url, data={"closes_at": _local(review_round, -timedelta(days=5))})
    assert resp.status_code == 302
    assert sorted(m.to_address for m in _mails(f"review-deadline:{review_round.id}")) == sorted(
        [reviewer.email, other_reviewer.email]
    )
    assert "brought forward" in _audit(review_round, "change-deadline")[0].summary


def test_close_early_then_reopen_for_a_fixed_time(
    client, staff_client, review_round, reviewer, staff
):
    resp = staff_client.post(f"/reviews/rounds/{review_round.id}/close")
    assert resp.status_code == 302
    db.session.refresh(review_round)
    assert review_round.status == "closed" and as_utc(review_round.closes_at) <= utcnow()
    assert len(_audit(review_round, "close")) == 1
    # Reviewers with an account are told (notification mail "round closed").
    assert db.session.scalar(
        select(func.count(OutgoingMail.id)).where(
            OutgoingMail.to_address == reviewer.email,
            OutgoingMail.category.like("round-changed:%"),
        )
    )
    again = staff_client.post(f"/reviews/rounds/{review_round.id}/close")
    assert again.status_code == 400 and "already closed" in again.get_data(as_text=True)
    # Reopen for three days.
    page = staff_client.get(f"/reviews/rounds/{review_round.id}/manage").get_data(as_text=True)
    assert "Reopen the round" in page and "Close the round now" not in page
    until = (deadline_in_zone(review_round) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    resp = staff_client.post(f"/reviews/rounds/{review_round.id}/reopen", data={"closes_at": until})
    assert resp.status_code == 302
    db.session.refresh(review_round)
    assert review_round.status == "open"
    assert timedelta(days=2) < as_utc(review_round.closes_at) - utcnow() <= timedelta(days=3)
    assert len(_audit(review_round, "reopen")) == 1
    reopened = _mails(f"review-reopened:{review_round.id}")
    assert {m.to_address for m in reopened} == {reviewer.email, "other@partner.example"}
    assert "is open again" in reopened[0].body_text
    # The reviewer can comment again.
    client.get("/account/logout")
    login(client, reviewer.email)
    paragraph = review_round.version.paragraphs[3]
    posted = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"paragraph": paragraph.anchor, "body": "Back in time.", "comment_type": "general"},
    )
    assert posted.status_code == 302


def test_reopening_needs_a_closed_round(staff_client, review_round):
    resp = staff_client.post(
        f"/reviews/rounds/{review_round.id}/reopen",
        data={"closes_at": _local(review_round, timedelta(days=1))},
    )
    assert resp.status_code == 400
    assert "Only a closed round can be reopened." in resp.get_data(as_text=True)
    assert db.session.get(ReviewRound, review_round.id).status == "open"


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "manage", None),
        ("post", "reviewers", {}),
        ("post", "deadline", {"closes_at": "2099-01-01T10:00"}),
        ("post", "close", {}),
        ("post", "reopen", {"closes_at": "2099-01-01T10:00"}),
    ],
)
def test_only_staff_steer_a_round(client, review_round, reviewer, method, path, data):
    url = f"/reviews/rounds/{review_round.id}/{path}"
    anonymous = getattr(client, method)(url, data=data)
    assert anonymous.status_code == 302 and "/account/login" in anonymous.location
    login(client, reviewer.email)
    assert getattr(client, method)(url, data=data).status_code == 403
    db.session.refresh(review_round)
    assert review_round.status == "open" and _audit(review_round, "close") == []


def test_a_moved_deadline_is_written_in_each_reviewers_own_zone_and_language(
    staff_client, staff, review_round, reviewer, other_reviewer
):
    """Not in the zone of the staff member who moved it: the reviewer in Shanghai reads
    Shanghai time, the one who chose no zone reads the round's, each in their language."""
    from portal.consultations.models import ConsultationPreference

    db.session.add(ConsultationPreference(user_id=staff.id, timezone="America/Lima", feed_key="s"))
    db.session.add(
        ConsultationPreference(user_id=reviewer.id, timezone="Asia/Shanghai", feed_key="r")
    )
    other_reviewer.locale = "fr"
    db.session.commit()
    resp = staff_client.post(
        f"/reviews/rounds/{review_round.id}/deadline",
        data={"closes_at": _local(review_round, timedelta(days=7))},
    )
    assert resp.status_code == 302
    mails = {m.to_address: m.body_text for m in _mails(f"review-deadline:{review_round.id}")}
    assert "(Asia/Shanghai)" in mails[reviewer.email]
    zone = review_round.timezone or "UTC"
    assert f"({zone})" in mails[other_reviewer.email]
    assert "America/Lima" not in "".join(mails.values())
    assert mails[other_reviewer.email].startswith("Bonjour")


def test_closed_early_notice_gives_the_time_in_each_reviewers_own_zone(
    staff_client, staff, review_round, reviewer
):
    from portal.consultations.models import ConsultationPreference

    db.session.add(ConsultationPreference(user_id=staff.id, timezone="America/Lima", feed_key="s"))
    db.session.add(
        ConsultationPreference(user_id=reviewer.id, timezone="Asia/Shanghai", feed_key="r")
    )
    db.session.commit()
    assert staff_client.post(f"/reviews/rounds/{review_round.id}/close").status_code == 302
    (mail,) = db.session.scalars(
        select(OutgoingMail).where(
            OutgoingMail.to_address == reviewer.email,
            OutgoingMail.category.like("round-changed:%"),
        )
    ).all()
    assert "(Asia/Shanghai)" in mail.body_text and "America/Lima" not in mail.body_text
