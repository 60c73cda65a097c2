"""Meeting e-mail: invitations, reminders and freed seats, each with the meeting attached as
iCalendar, in the recipient's language and time zone; and the request context that links and
translated mail need when the CLI or the worker sends them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin

from portal.accounts.models import User
from portal.consultations.ics import calendar_for, itip_attachment
from portal.consultations.models import Meeting
from portal.consultations.services.preferences import feed_token, viewer_timezone
from portal.consultations.timezones import zone
from portal.core.models import as_utc
from portal.notifications.links import absolute_url
from portal.notifications.services import queue_mail


@contextmanager
def link_context() -> Iterator[None]:
    """Links and translated mail need a request; CLI and worker runs get one addressed to
    BASE_URL (the locale is then each recipient's own, forced per message)."""
    if has_request_context():
        yield
        return
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        yield


def queue_meeting_mail(
    user: User,
    template: str,
    subject: str,
    category: str,
    unsubscribe_url: str | None = None,
    **context,
) -> None:
    """A mail to one invitee with the meeting as an iTIP REQUEST for them (their calendar
    app offers Accept/Decline and keeps the event in step with later updates)."""
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        context = {
            "user": user,
            "lang": locale,
            "rtl": locale == "ar",
            "unsubscribe": unsubscribe_url,
            "reader_tz": viewer_timezone(user),  # times also in the recipient's own zone
            **context,
        }
        invitation = context.get("invitation")
        attachments = (
            [itip_attachment(context["meeting"], invitation, "REQUEST")]
            if invitation is not None
            else [meeting_ics_attachment(context["meeting"])]
        )
        queue_mail(
            user.email,
            _subject(subject, context),
            render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
            category=category,
            attachments=attachments,
            unsubscribe_url=unsubscribe_url,
        )


def meeting_ics_attachment(meeting: Meeting) -> tuple[str, str, bytes]:
    """The meeting as an .ics file for the mail: one click adds it to any calendar.

    Exported as the public sees it — no ATTENDEE lines — because a mail can be forwarded.
    """
    content = calendar_for([meeting], AnonymousUserMixin())
    return (f"meeting-{meeting.id}.ics", "text/calendar; method=PUBLISH", content)


def _subject(kind: str, context: dict) -> str:
    meeting: Meeting = context["meeting"]
    if kind == "invitation":
        return _("Invitation: %(title)s", title=meeting.title)
    if kind == "reminder":
        return _("Reminder: %(title)s", title=meeting.title)
    return _("A seat is now available: %(title)s", title=meeting.title)


def meeting_mail_context(meeting: Meeting, user: User) -> dict:
    tz = zone(meeting.timezone)
    return {
        "meeting": meeting,
        "meeting_url": absolute_url("consultations.meeting", meeting_id=meeting.id),
        "ics_url": absolute_url("consultations.meeting_ics", meeting_id=meeting.id),
        "feed_url": absolute_url("consultations.feed", token=feed_token(user)),
        "starts_local": as_utc(meeting.starts_at).astimezone(tz),
        "ends_local": as_utc(meeting.ends_at).astimezone(tz),
        "group": meeting.group,
    }
