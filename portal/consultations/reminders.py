"""Meeting reminders: one e-mail per invitee, N days (``Meeting.reminder_days``) before.

Run by ``flask --app portal consultations send-reminders`` (cron) or continuously by
``flask --app portal consultations worker``, which also delivers the outbox. Each invitation
records ``reminder_sent_at``, so running it often, or twice at once after a crash, never sends
a second reminder for the same meeting time (moving the meeting resets it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from portal.consultations.models import Invitation, Meeting, MeetingStatus, RsvpResponse
from portal.consultations.services import (
    MAX_REMINDER_DAYS,
    link_context,
    meeting_mail_context,
    queue_meeting_mail,
)
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.events import delivery_for, unsubscribe_url


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue one reminder per pending/accepted/tentative invitee of each scheduled meeting that
    starts within its ``reminder_days``. ``reminder_sent_at`` makes it idempotent: run it as
    often as you like. Returns the number of reminders queued (caller commits)."""
    now = now or utcnow()
    horizon = now + timedelta(days=MAX_REMINDER_DAYS)
    meetings = db.session.scalars(
        select(Meeting).where(
            Meeting.status == MeetingStatus.SCHEDULED.value,
            Meeting.starts_at > now,
            Meeting.starts_at <= horizon,
        )
    ).all()
    count = 0
    with link_context():
        for meeting in meetings:
            if as_utc(meeting.starts_at) - timedelta(days=meeting.reminder_days or 0) > now:
                continue
            if meeting.reminder_days == 0:
                continue  # 0 = no reminder
            for invitation in meeting.invitations:
                if invitation.reminder_sent_at is not None:
                    continue
                if (
                    invitation.response == RsvpResponse.DECLINED.value
                    or not invitation.user.is_active
                ):
                    continue
                # Claim the invitation first: of two workers racing, only one updates the row
                # (the other's UPDATE matches nothing once the first commits).
                claimed = db.session.execute(
                    update(Invitation)
                    .where(Invitation.id == invitation.id, Invitation.reminder_sent_at.is_(None))
                    .values(reminder_sent_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if claimed != 1:
                    continue
                if delivery_for(invitation.user, "meeting-reminder") == "never":
                    continue  # claimed anyway: the person chose no reminders
                queue_meeting_mail(
                    invitation.user,
                    "meeting_reminder",
                    "reminder",
                    "meeting-reminder",
                    unsubscribe_url=unsubscribe_url(invitation.user, "meeting-reminder"),
                    invitation=invitation,
                    **meeting_mail_context(meeting, invitation.user),
                )
                count += 1
            meeting.reminders_sent_at = now
        db.session.flush()
    db.session.expire_all()  # the claims bypassed the identity map
    return count
