"""Summaries for the people who run consultations, raised by the worker each round.

- **RSVP summary** to a meeting's organiser (and the group's secretariat) once, a few days
  before the meeting (its ``reminder_days``, at least one): who accepted, is tentative,
  declined, has not answered, waits for a seat. Again if the meeting moves.
- **Minutes overdue**: minutes still not circulated ``MINUTES_DUE_DAYS`` after a meeting
  ended reach the organiser and the secretariat, once per meeting.
- **Action items overdue**: an open action item past its due date reaches its owner and the
  secretariat, once per due date.

Each notice goes through ``notify``: people choose immediate mail or a digest, and the event
keys make every run idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from portal.accounts.models import User
from portal.consultations.models import (
    GroupMember,
    Meeting,
    MeetingStatus,
    MinutesStatus,
    Outcome,
    OutcomeKind,
    RsvpResponse,
)
from portal.consultations.records_permissions import secretariat_clause
from portal.consultations.records_services import CLOSED_STATUSES
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.events import Notice, notify
from portal.notifications.links import absolute_url

MINUTES_DUE_DAYS = 7
# Older meetings and action items are history, not news: they are never raised.
LOOKBACK = timedelta(days=90)


def secretariat(group_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(secretariat_clause(group_id))
        )
    )


def _organisers(meeting: Meeting) -> list[User]:
    people = [meeting.created_by] if meeting.created_by is not None else []
    return people + secretariat(meeting.group_id)


def _group(meeting: Meeting) -> dict:
    return {"group_key": f"advisory-group:{meeting.group_id}", "group_title": meeting.group.name}


def rsvp_summaries(now: datetime) -> int:
    meetings = db.session.scalars(
        select(Meeting).where(
            Meeting.status == MeetingStatus.SCHEDULED.value,
            Meeting.starts_at > now,
            Meeting.starts_at <= now + timedelta(days=60),
        )
    ).all()
    count = 0
    for meeting in meetings:
        lead = timedelta(days=max(1, meeting.reminder_days or 0))
        if as_utc(meeting.starts_at) - lead > now or not meeting.invitations:
            continue
        tally = {r.value: 0 for r in RsvpResponse}
        waiting = 0
        for invitation in meeting.invitations:
            tally[invitation.response] = tally.get(invitation.response, 0) + 1
            waiting += bool(invitation.waitlisted)
        title = meeting.title
        when = as_utc(meeting.starts_at).strftime("%Y-%m-%d %H:%M UTC")

        def summary(title=title, tally=tally, waiting=waiting) -> str:
            return _(
                "RSVPs for “%(title)s”: %(yes)d accepted, %(maybe)d tentative, %(no)d declined,"
                " %(none)d not answered, %(waiting)d waiting for a seat",
                title=title,
                yes=tally["accepted"],
                maybe=tally["tentative"],
                no=tally["declined"],
                none=tally["pending"],
                waiting=waiting,
            )

        count += notify(
            _organisers(meeting),
            Notice(
                kind="rsvp-summary",
                key=f"rsvp-summary:{meeting.id}:{meeting.sequence}",
                subject=lambda title=title: _("RSVP summary: %(title)s", title=title),
                summary=summary,
                template="notification",
                link=absolute_url("consultations.meeting", meeting_id=meeting.id),
                context={
                    "intro_fn": summary,
                    "details_fn": lambda when=when: [(_("Starts:"), when)],
                },
                **_group(meeting),
            ),
        )
    return count


def minutes_overdue(now: datetime) -> int:
    due_before = now - timedelta(days=MINUTES_DUE_DAYS)
    meetings = db.session.scalars(
        select(Meeting).where(
            Meeting.status.in_((MeetingStatus.SCHEDULED.value, MeetingStatus.HELD.value)),
            Meeting.ends_at <= due_before,
            Meeting.ends_at > due_before - LOOKBACK,
        )
    ).all()
    count = 0
    for meeting in meetings:
        minutes = meeting.minutes
        if minutes is not None and minutes.status != MinutesStatus.DRAFT.value:
            continue
        title = meeting.title
        days = (now - as_utc(meeting.ends_at)).days

        def summary(title=title, days=days) -> str:
            return _(
                "Minutes of “%(title)s” are not circulated, %(days)d days after the meeting",
                title=title,
                days=days,
            )

        count += notify(
            _organisers(meeting),
            Notice(
                kind="minutes-overdue",
                key=f"minutes-overdue:{meeting.id}",
                subject=lambda title=title: _("Minutes overdue: %(title)s", title=title),
                summary=summary,
                template="notification",
                link=absolute_url("consultations.minutes_view", meeting_id=meeting.id),
                context={"intro_fn": summary, "details_fn": lambda: []},
                **_group(meeting),
            ),
        )
    return count


def actions_overdue(now: datetime) -> int:
    today = now.date()
    outcomes = db.session.scalars(
        select(Outcome).where(
            Outcome.kind == OutcomeKind.ACTION.value,
            Outcome.due_on < today,
            Outcome.due_on >= today - LOOKBACK,
            Outcome.status.not_in([str(s) for s in CLOSED_STATUSES]),
        )
    ).all()
    count = 0
    for outcome in outcomes:
        meeting = outcome.meeting
        title, due = outcome.title, outcome.due_on.isoformat()
        owner = outcome.owner.name if outcome.owner else "—"

        def summary(title=title, due=due) -> str:
            return _("Action item “%(title)s” was due on %(due)s", title=title, due=due)

        count += notify(
            [outcome.owner, *secretariat(meeting.group_id)],
            Notice(
                kind="action-overdue",
                key=f"action-overdue:{outcome.id}:{due}",
                subject=lambda title=title: _("Overdue action item: %(title)s", title=title),
                summary=summary,
                template="notification",
                link=absolute_url("consultations.meeting", meeting_id=meeting.id),
                context={
                    "intro_fn": summary,
                    "details_fn": lambda owner=owner, mt=meeting.title: [
                        (_("Owner:"), owner),
                        (_("Meeting:"), mt),
                    ],
                },
                **_group(meeting),
            ),
        )
    return count


def raise_staff_notices(now: datetime | None = None) -> int:
    """Every staff summary that is due; returns how many people were notified."""
    now = now or utcnow()
    return rsvp_summaries(now) + minutes_overdue(now) + actions_overdue(now)
