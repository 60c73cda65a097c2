"""Meeting invitations, moves and cancellations as iTIP (RFC 5546), checked with two independent
parsers (``icalendar`` and ``ical``), over a real SMTP server; the personal feed follows."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from ical.calendar_stream import IcsCalendarStream

from portal.accounts.models import Role
from portal.consultations.services import (
    MeetingData,
    feed_token,
    invite,
    meeting_local_values,
    save_meeting,
)
from portal.extensions import db
from portal.notifications.events import set_preference
from portal.notifications.mailer import deliver_due
from tests.consultations import add_member, make_group, make_meeting
from tests.factories import make_user

pytest_plugins = ["tests.smtp"]


def _data(meeting, **changes) -> MeetingData:
    values = {
        "title": meeting.title,
        "group_id": meeting.group_id,
        "timezone": meeting.timezone,
        "mode": meeting.mode,
        "description": meeting.description,
        "online_url": meeting.online_url,
        "location": meeting.location,
        "reminder_days": meeting.reminder_days,
        "status": meeting.status,
        **meeting_local_values(meeting),
    }
    values.pop("agenda_cutoff_local")
    values.update(changes)
    return MeetingData(**values)


def _calendar_part(message):
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part, part.get_payload(decode=True)


def _both_parsers(raw: bytes):
    """Parse with both libraries; return (icalendar VEVENT, ical Event, method)."""
    cal = icalendar.Calendar.from_ical(raw)
    [event] = cal.walk("VEVENT")
    other = IcsCalendarStream.calendar_from_ics(raw.decode("utf-8"))
    [other_event] = other.events
    assert str(cal["method"]) == other.method
    assert str(event["uid"]) == other_event.uid
    assert int(event["sequence"]) == other_event.sequence
    assert event.decoded("dtstart") == other_event.dtstart
    return event, other_event, other.method


def test_invite_move_and_cancel_reach_every_invitee_once_as_itip(client, smtp_server):
    staff = make_user(Role.STAFF, email="organiser@example.org", name="Olga Organiser")
    group = make_group()
    ana = make_user(email="ana@example.org", name="Ana")
    ana.locale = "fr"
    rui = make_user(email="rui@example.org", name="Rui")
    outsider = make_user(email="outsider@example.org")
    for member in (ana, rui):
        add_member(group, member)
    meeting = make_meeting(
        group, timezone="Africa/Nairobi", starts_in=timedelta(days=20), created_by_id=staff.id
    )
    invite(staff, meeting, whole_group=True)
    db.session.commit()
    assert deliver_due().sent == 2

    invitations = {str(m["To"]): m for m in smtp_server.wait_for(2)}
    part, raw = _calendar_part(invitations["ana@example.org"])
    assert part.get_param("method") == "REQUEST"
    event, other, method = _both_parsers(raw)
    assert method == "REQUEST"
    uid = str(event["uid"])
    assert int(event["sequence"]) == 0
    assert str(event["organizer"]) == "mailto:organiser@example.org"
    assert [a.uri for a in other.attendees] == ["mailto:ana@example.org"]  # only the recipient
    assert other.attendees[0].rsvp is True
    first_start = event.decoded("dtstart")
    assert str(first_start.tzinfo) == "Africa/Nairobi"

    # Moved by two days: an update with the same UID and a higher SEQUENCE, to each invitee.
    local = meeting_local_values(meeting)
    save_meeting(
        staff,
        _data(
            meeting,
            starts_local=local["starts_local"] + timedelta(days=2),
            ends_local=local["ends_local"] + timedelta(days=2),
        ),
        meeting,
    )
    db.session.commit()
    assert deliver_due().sent == 2
    moved = {str(m["To"]): m for m in smtp_server.wait_for(4)[2:]}
    assert set(moved) == {"ana@example.org", "rui@example.org"}
    assert moved["ana@example.org"]["Subject"] == f"Déplacée : {meeting.title}"
    assert moved["rui@example.org"]["Subject"] == f"Moved: {meeting.title}"
    assert moved["rui@example.org"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    part, raw = _calendar_part(moved["rui@example.org"])
    event, other, method = _both_parsers(raw)
    assert (method, str(event["uid"]), int(event["sequence"])) == ("REQUEST", uid, 1)
    assert event.decoded("dtstart") - first_start == timedelta(days=2)
    assert [a.uri for a in other.attendees] == ["mailto:rui@example.org"]

    # Saving without a change sends nothing.
    save_meeting(staff, _data(meeting), meeting)
    db.session.commit()
    assert deliver_due().sent == 0

    # Cancelled: METHOD:CANCEL, STATUS:CANCELLED, SEQUENCE up again.
    save_meeting(staff, _data(meeting, status="cancelled"), meeting)
    db.session.commit()
    assert deliver_due().sent == 2
    cancelled = {str(m["To"]): m for m in smtp_server.wait_for(6)[4:]}
    assert set(cancelled) == {"ana@example.org", "rui@example.org"}
    part, raw = _calendar_part(cancelled["ana@example.org"])
    assert part.get_param("method") == "CANCEL"
    event, other, method = _both_parsers(raw)
    assert (method, str(event["uid"]), int(event["sequence"])) == ("CANCEL", uid, 2)
    assert str(event["status"]) == "CANCELLED" and other.status.value == "CANCELLED"
    assert cancelled["ana@example.org"]["Subject"] == f"Annulée : {meeting.title}"

    assert not smtp_server.to(outsider.email)
    assert not smtp_server.to(staff.email)

    # The personal calendar feed shows the same event, cancelled, at the same SEQUENCE.
    with client.application.test_request_context():
        token = feed_token(rui)
    db.session.commit()
    resp = client.get(f"/consultations/feed/{token}.ics")
    assert resp.status_code == 200
    feed = IcsCalendarStream.calendar_from_ics(resp.get_data(as_text=True))
    [entry] = [e for e in feed.events if e.uid == uid]
    assert entry.sequence == 2 and entry.status.value == "CANCELLED"
    [entry] = [e for e in icalendar.Calendar.from_ical(resp.data).walk("VEVENT")]
    assert int(entry["sequence"]) == 2


def test_an_invitee_who_turned_off_meeting_updates_gets_none(smtp_server):
    staff = make_user(Role.STAFF, email="organiser@example.org")
    group = make_group()
    ana, rui = make_user(email="ana@example.org"), make_user(email="rui@example.org")
    for member in (ana, rui):
        add_member(group, member)
    meeting = make_meeting(group)
    invite(staff, meeting, whole_group=True)
    set_preference(rui, "meeting-update", "never")
    db.session.commit()
    deliver_due()
    save_meeting(staff, _data(meeting, status="cancelled"), meeting)
    db.session.commit()
    assert deliver_due().sent == 1
    assert [str(m["To"]) for m in smtp_server.wait_for(3)[2:]] == ["ana@example.org"]
