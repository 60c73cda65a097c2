"""Summaries for organisers and the secretariat, and the members' own consultation events —
each to exactly the right people, once, over a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from portal.accounts.models import Role
from portal.consultations.records_services import (
    OutcomeData,
    change_minutes_status,
    create_outcome,
    save_minutes,
)
from portal.consultations.staff_notices import raise_staff_notices
from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.events import set_preference
from portal.notifications.mailer import deliver_due
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_user

pytest_plugins = ["tests.smtp"]


def _people():
    organiser = make_user(Role.STAFF, email="organiser@example.org", name="Olga")
    group = make_group()
    clerk = make_user(email="clerk@example.org", name="Clerk")
    add_member(group, clerk, role="secretariat")
    members = [make_user(email=f"m{n}@example.org", name=f"M{n}") for n in range(4)]
    for member in members:
        add_member(group, member)
    return organiser, group, clerk, members


def test_rsvp_summary_reaches_organiser_and_secretariat_once_before_the_meeting(smtp_server):
    organiser, group, clerk, members = _people()
    soon = make_meeting(group, starts_in=timedelta(days=1), created_by_id=organiser.id)
    later = make_meeting(group, starts_in=timedelta(days=20), created_by_id=organiser.id)
    for member, answer in zip(
        members, ["accepted", "accepted", "declined", "pending"], strict=True
    ):
        invite_user(soon, member, response=answer)
        invite_user(later, member)
    db.session.commit()

    assert raise_staff_notices() == 2  # the organiser and the secretariat, for `soon` only
    db.session.commit()
    assert raise_staff_notices() == 0  # once
    db.session.commit()
    assert deliver_due().sent == 2
    messages = smtp_server.wait_for(2)
    assert sorted(str(m["To"]) for m in messages) == ["clerk@example.org", "organiser@example.org"]
    text = smtp_server.text(messages[0])
    assert "2 accepted, 0 tentative, 1 declined, 1 not answered, 0 waiting for a seat" in text
    assert messages[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not any(smtp_server.to(m.email) for m in members)


def test_minutes_overdue_and_actions_overdue_go_to_owners_and_secretariat(smtp_server):
    organiser, group, clerk, members = _people()
    owner = members[0]
    past = make_meeting(
        group, starts_in=timedelta(days=-10), status="held", created_by_id=organiser.id
    )
    recent = make_meeting(group, starts_in=timedelta(days=-2), status="held")
    db.session.commit()
    action = create_outcome(
        organiser,
        past,
        OutcomeData(
            title="Share the housing data",
            owner_id=owner.id,
            due_on=(utcnow() - timedelta(days=3)).date(),
        ),
    )
    db.session.commit()
    assert deliver_due().sent == 1  # "assigned to you", immediately
    [assigned] = smtp_server.wait_for(1)
    assert assigned["To"] == owner.email and "Share the housing data" in assigned["Subject"]

    # Minutes overdue and action overdue default to the daily digest for the people concerned;
    # make them immediate here to see each mail.
    for person in (organiser, clerk, owner):
        set_preference(person, "minutes-overdue", "immediate")
        set_preference(person, "action-overdue", "immediate")
    db.session.commit()
    raise_staff_notices()
    db.session.commit()
    assert deliver_due().sent == 4
    new = smtp_server.wait_for(5)[1:]
    by_to = sorted((str(m["To"]), str(m["Subject"])) for m in new)
    assert by_to == [
        ("clerk@example.org", f"Minutes overdue: {past.title}"),
        ("clerk@example.org", "Overdue action item: Share the housing data"),
        ("m0@example.org", "Overdue action item: Share the housing data"),
        ("organiser@example.org", f"Minutes overdue: {past.title}"),
    ]
    assert recent.id  # ended two days ago: not overdue yet
    raise_staff_notices()
    db.session.commit()
    assert deliver_due().sent == 0  # once
    assert action.id


def test_published_minutes_reach_members_in_their_daily_digest(smtp_server):
    organiser, group, clerk, members = _people()
    meeting = make_meeting(group, starts_in=timedelta(days=-3), status="held")
    db.session.commit()
    minutes = save_minutes(organiser, meeting, "We agreed on the work plan.", base_version=0)
    db.session.commit()
    for action in ("circulate", "approve", "publish"):
        minutes = change_minutes_status(organiser, meeting, action, minutes.version)
        db.session.commit()
    deliver_due()  # the circulation mails
    before = len(smtp_server.wait_for(5))
    from sqlalchemy import select

    from portal.notifications.models import NotificationEvent

    events = db.session.scalars(
        select(NotificationEvent).where(NotificationEvent.kind == "minutes-published")
    ).all()
    assert sorted(e.user_id for e in events) == sorted([clerk.id, *(m.id for m in members)])
    assert {e.delivery for e in events} == {"daily"} and all(e.mail_id is None for e in events)
    assert len(smtp_server.messages) == before  # nothing immediate
