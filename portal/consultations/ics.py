"""iCalendar (RFC 5545) export of meetings, with the ``icalendar`` package.

One VEVENT per meeting: times carry the meeting's TZID with a matching VTIMEZONE, so a
calendar app shows the right wall-clock time even across daylight-saving changes. SEQUENCE is
the meeting's ``sequence`` (bumped on edits) so apps replace their copy; a cancelled meeting is
exported with STATUS:CANCELLED so subscribed calendars drop it rather than keep a stale event.

ATTENDEE lines carry e-mail addresses, so they are only included for viewers who may see the
invitation list (staff and the group's members), never for the public.

Mail carries iTIP (RFC 5546) instead of a PUBLISH snapshot: ``itip_calendar`` makes a
``METHOD:REQUEST`` (invitation, or an update when the meeting moved) or ``METHOD:CANCEL`` for
one attendee, with the meeting's stable UID and its SEQUENCE, so calendar apps offer
Accept/Decline, move the event they already have, or remove it.
"""

from __future__ import annotations

from email.utils import parseaddr
from urllib.parse import urlparse

from flask import current_app
from flask_babel import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    Meeting,
    MeetingMode,
    MeetingStatus,
    RsvpResponse,
)
from portal.consultations.permissions import can_view_invitations
from portal.consultations.timezones import zone
from portal.core.models import as_utc, utcnow
from portal.notifications.links import absolute_url

PARTSTAT = {
    RsvpResponse.PENDING.value: "NEEDS-ACTION",
    RsvpResponse.ACCEPTED.value: "ACCEPTED",
    RsvpResponse.DECLINED.value: "DECLINED",
    RsvpResponse.TENTATIVE.value: "TENTATIVE",
}

STATUS = {
    MeetingStatus.DRAFT.value: "TENTATIVE",
    MeetingStatus.SCHEDULED.value: "CONFIRMED",
    MeetingStatus.HELD.value: "CONFIRMED",
    MeetingStatus.CANCELLED.value: "CANCELLED",
}


def _uid(meeting: Meeting) -> str:
    host = urlparse(current_app.config["BASE_URL"]).hostname or "portal.local"
    return f"meeting-{meeting.id}@{host}"


def _description(meeting: Meeting) -> str:
    lines = []
    if meeting.description:
        lines += [meeting.description, ""]
    if meeting.area_list:
        areas = "; ".join(str(ENGAGEMENT_AREAS.get(a, a)) for a in meeting.area_list)
        lines.append(_("Engagement areas: %(areas)s", areas=areas))
        lines.append("")
    accepted = [i for i in meeting.agenda_items if i.status == "accepted"]
    if accepted:
        lines.append(_("Agenda:"))
        for n, item in enumerate(accepted, start=1):
            extra = []
            if item.presenter:
                extra.append(item.presenter)
            if item.duration_minutes:
                extra.append(_("%(n)d min", n=item.duration_minutes))
            lines.append(f"{n}. {item.title}" + (f" ({', '.join(extra)})" if extra else ""))
        lines.append("")
    lines.append(absolute_url("consultations.meeting", meeting_id=meeting.id))
    return "\n".join(lines)


def meeting_event(meeting: Meeting, viewer, attendees=None, dtstamp=None) -> Event:
    """``attendees``: exactly these invitations as ATTENDEE lines (iTIP mail to one person);
    otherwise every invitation when ``viewer`` may see the list."""
    tz = zone(meeting.timezone)
    event = Event()
    event.add("uid", _uid(meeting))
    event.add("dtstamp", dtstamp or as_utc(meeting.updated_at or meeting.created_at))
    event.add("dtstart", as_utc(meeting.starts_at).astimezone(tz))
    event.add("dtend", as_utc(meeting.ends_at).astimezone(tz))
    event.add("summary", meeting.title)
    event.add("description", _description(meeting))
    event.add("sequence", meeting.sequence or 0)
    event.add("status", STATUS.get(meeting.status, "CONFIRMED"))
    if meeting.mode != MeetingMode.ONLINE.value and meeting.location:
        event.add("location", meeting.location)
    elif meeting.online_url:
        event.add("location", meeting.online_url)
    if meeting.online_url:
        event.add("url", meeting.online_url)
    else:
        event.add("url", absolute_url("consultations.meeting", meeting_id=meeting.id))
    event.add("organizer", _organizer(meeting), encode=0)
    if attendees is None:
        attendees = meeting.invitations if can_view_invitations(viewer, meeting) else []
    for invitation in attendees:
        attendee = vCalAddress(f"mailto:{invitation.user.email}")
        attendee.params["cn"] = vText(invitation.user.name)
        attendee.params["partstat"] = PARTSTAT.get(invitation.response, "NEEDS-ACTION")
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["rsvp"] = "TRUE"
        event.add("attendee", attendee, encode=0)
    return event


def _organizer(meeting: Meeting) -> vCalAddress:
    """The staff member who scheduled the meeting (calendar replies reach a person), or the
    portal's sender address for meetings without one."""
    creator = getattr(meeting, "created_by", None)
    address = creator.email if creator is not None and creator.email else None
    if address is None:
        _name, address = parseaddr(current_app.config.get("MAIL_FROM") or "")
    organizer = vCalAddress(f"mailto:{address or 'no-reply@portal.localhost'}")
    organizer.params["cn"] = vText(meeting.group.name)
    return organizer


def itip_calendar(meeting: Meeting, invitation, method: str) -> bytes:
    """An iTIP message for one attendee: ``REQUEST`` (invitation or update) or ``CANCEL``."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {method!r}")
    cal = Calendar()
    cal.add("prodid", "-//Partnership & Stakeholder Engagement Portal//Consultations//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = meeting_event(meeting, None, attendees=[invitation], dtstamp=utcnow())
    if method == "CANCEL":
        event["status"] = "CANCELLED"
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def itip_attachment(meeting: Meeting, invitation, method: str) -> tuple[str, str, bytes]:
    return (
        f"meeting-{meeting.id}.ics",
        f"text/calendar; method={method}",
        itip_calendar(meeting, invitation, method),
    )


def calendar_for(meetings: list[Meeting], viewer, name: str | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Partnership & Stakeholder Engagement Portal//Consultations//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    for meeting in meetings:
        cal.add_component(meeting_event(meeting, viewer))
    # A VTIMEZONE for every TZID used, generated from the zoneinfo database.
    cal.add_missing_timezones()
    return cal.to_ical()
