"""Notification events raised by consultations: a meeting moved, changed or cancelled.

Every invitee gets an iTIP message for their own calendar: ``METHOD:REQUEST`` with the bumped
SEQUENCE when the meeting moved or changed (the calendar app updates the event it has), or
``METHOD:CANCEL`` when it was cancelled (the app removes it).
"""

from __future__ import annotations

from flask_babel import gettext as _

from portal.consultations.models import Meeting, MeetingStatus
from portal.core.models import as_utc
from portal.notifications.events import Notice, notify
from portal.notifications.links import absolute_url


def meeting_changed(meeting: Meeting, actor, *, moved: bool) -> int:
    from portal.consultations.ics import itip_attachment
    from portal.consultations.timezones import zone

    invitations = {i.user_id: i for i in meeting.invitations}
    if not invitations:
        return 0
    cancelled = meeting.status == MeetingStatus.CANCELLED.value
    if not cancelled and meeting.status != MeetingStatus.SCHEDULED.value:
        return 0  # back to draft: nothing invitees can act on
    method = "CANCEL" if cancelled else "REQUEST"
    tz = zone(meeting.timezone)
    starts = as_utc(meeting.starts_at).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    ends = as_utc(meeting.ends_at).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    title, group = meeting.title, meeting.group.name

    def subject() -> str:
        if cancelled:
            return _("Cancelled: %(title)s", title=title)
        if moved:
            return _("Moved: %(title)s", title=title)
        return _("Changed: %(title)s", title=title)

    def intro() -> str:
        if cancelled:
            return _(
                "The meeting “%(title)s” of %(group)s has been cancelled.", title=title, group=group
            )
        if moved:
            return _(
                "The meeting “%(title)s” of %(group)s has moved to a new time.",
                title=title,
                group=group,
            )
        return _(
            "The details of the meeting “%(title)s” of %(group)s have changed.",
            title=title,
            group=group,
        )

    def details() -> list[tuple[str, str]]:
        rows = [
            (_("Starts:"), f"{starts} ({meeting.timezone})"),
            (_("Ends:"), f"{ends} ({meeting.timezone})"),
        ]
        if meeting.location:
            rows.append((_("Place:"), meeting.location))
        if meeting.online_url:
            rows.append((_("Online:"), meeting.online_url))
        if not cancelled:
            rows.append((_("Your calendar:"), _("the attached invitation updates the event.")))
        return rows

    return notify(
        [i.user for i in invitations.values()],
        Notice(
            kind="meeting-update",
            key=f"meeting-update:{meeting.id}:{meeting.sequence}",
            subject=subject,
            summary=intro,
            template="notification",
            link=absolute_url("consultations.meeting", meeting_id=meeting.id),
            group_key=f"advisory-group:{meeting.group_id}",
            group_title=group,
            context={"intro_fn": intro, "details_fn": details},
            attachments=lambda user: [itip_attachment(meeting, invitations[user.id], method)],
        ),
        exclude=None,
    )


def minutes_published(meeting: Meeting, actor) -> int:
    """Every current member of the group hears that the minutes are public (daily digest
    by default: minutes are reference, not urgent)."""
    from sqlalchemy import select

    from portal.consultations import records_permissions as rules
    from portal.consultations.models import GroupMember
    from portal.extensions import db

    members = db.session.scalars(
        select(GroupMember).where(
            GroupMember.group_id == meeting.group_id, rules.active_membership_clause()
        )
    ).all()
    title, group = meeting.title, meeting.group.name

    def summary() -> str:
        return _("The minutes of “%(title)s” are published", title=title)

    return notify(
        [m.user for m in members],
        Notice(
            kind="minutes-published",
            key=f"minutes-published:{meeting.id}",
            subject=lambda: _("Minutes published: %(title)s", title=title),
            summary=summary,
            template="notification",
            link=absolute_url("consultations.minutes_view", meeting_id=meeting.id),
            group_key=f"advisory-group:{meeting.group_id}",
            group_title=group,
            context={"intro_fn": summary, "details_fn": lambda: []},
        ),
        exclude=actor,
    )


def action_assigned(outcome, actor) -> int:
    """The new owner of an action item hears of it (once per owner and item)."""
    if outcome.owner is None or outcome.kind != "action":
        return 0
    meeting = outcome.meeting
    title, due = outcome.title, outcome.due_on.isoformat() if outcome.due_on else None

    def summary() -> str:
        return _("Action item assigned to you: “%(title)s”", title=title)

    def details() -> list[tuple[str, str]]:
        rows = [(_("Meeting:"), meeting.title)]
        if due:
            rows.append((_("Due:"), due))
        if outcome.description:
            rows.append((_("Description:"), outcome.description))
        return rows

    return notify(
        [outcome.owner],
        Notice(
            kind="action-assigned",
            key=f"action-assigned:{outcome.id}:{outcome.owner_id}",
            subject=lambda: _("Action item for you: %(title)s", title=title),
            summary=summary,
            template="notification",
            link=absolute_url("consultations.meeting", meeting_id=meeting.id),
            group_key=f"advisory-group:{meeting.group_id}",
            group_title=meeting.group.name,
            context={"intro_fn": summary, "details_fn": details},
        ),
        exclude=actor,
    )
