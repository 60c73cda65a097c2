"""Invitations and reminders over a real SMTP server (aiosmtpd), the outbox when SMTP is down,
and the iCalendar exports parsed back with the ``icalendar`` package."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.consultations.models import Invitation
from portal.consultations.reminders import send_due_reminders
from portal.consultations.services import feed_token
from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from tests.conftest import login
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_user

pytest_plugins = ["tests.smtp"]

BASE = "http://127.0.0.1:5000"  # BASE_URL: links in mail point there


def _setup(n_members: int = 2, **meeting_kw):
    group = make_group()
    members = [
        make_user(email=f"member{n}@example.org", name=f"Member {n}") for n in range(n_members)
    ]
    for member in members:
        add_member(group, member)
    outsider = make_user(email="outsider@example.org")
    staff = make_user(Role.STAFF, email="staff@example.org")
    meeting = make_meeting(group, **meeting_kw)
    db.session.commit()
    return group, members, outsider, staff, meeting


def _unsent() -> int:
    return db.session.scalar(
        select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_(None))
    )


def test_invitations_reach_each_member_with_the_meeting_link(client, smtp_server):
    _group, members, outsider, staff, meeting = _setup()
    login(client, staff.email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/invite",
        data={"scope": "group"},
        follow_redirects=True,
    )
    assert resp.status_code == 200
    messages = smtp_server.wait_for(2)
    assert len(messages) == 2
    recipients = sorted(str(m["To"]) for m in messages)
    assert recipients == ["member0@example.org", "member1@example.org"]
    assert not smtp_server.to(outsider.email)
    for message in messages:
        assert message["Subject"] == f"Invitation: {meeting.title}"
        body = smtp_server.text(message)
        assert f"{BASE}/consultations/meetings/{meeting.id}" in body
        assert f"{BASE}/consultations/meetings/{meeting.id}.ics" in body
        assert f"{BASE}/consultations/meetings/{meeting.id}" in smtp_server.html(message)
        assert "/consultations/feed/" in body
        # The meeting itself rides along as an iTIP REQUEST the calendar app can answer,
        # naming only this recipient: a forwarded mail must not hand out the other invitees.
        [ics] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        assert ics.get_filename() == f"meeting-{meeting.id}.ics"
        assert ics.get_param("method") == "REQUEST"
        calendar = icalendar.Calendar.from_ical(ics.get_payload(decode=True))
        assert str(calendar["method"]) == "REQUEST"
        [event] = calendar.walk("VEVENT")
        assert str(event["summary"]) == meeting.title
        attendees = event["attendee"]
        attendees = attendees if isinstance(attendees, list) else [attendees]
        assert [str(a) for a in attendees] == [f"mailto:{message['To']}"]


def test_smtp_down_mail_waits_in_outbox_then_mail_send_delivers(
    client, app, runner, smtp_server_factory
):
    _group, members, _outsider, staff, meeting = _setup(3)
    server = smtp_server_factory(start=False)  # port reserved, nothing listening yet
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = server.url
    try:
        login(client, staff.email)
        resp = client.post(
            f"/consultations/meetings/{meeting.id}/invite",
            data={"scope": "group"},
            follow_redirects=True,
        )
        # The staff action succeeded even though no mail could leave.
        assert resp.status_code == 200
        assert "3 invitations sent." in resp.get_data(as_text=True)
        assert db.session.scalar(select(func.count(Invitation.id))) == 3
        db.session.expire_all()
        assert _unsent() == 3

        server.start()
        # Retries are scheduled with backoff: make them due now, as time passing would.
        db.session.execute(OutgoingMail.__table__.update().values(next_attempt_at=utcnow()))
        db.session.commit()
        result = runner.invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        server.wait_for(3)
        assert sorted(str(m["To"]) for m in server.messages) == [m.email for m in members]
        db.session.expire_all()
        assert _unsent() == 0
    finally:
        app.config["SMTP_URL"] = previous


def test_reminders_go_n_days_before_to_the_right_people_once(app, runner, smtp_server):
    group, members, outsider, _staff, meeting = _setup(
        4, starts_in=timedelta(days=1, hours=12), reminder_days=2
    )
    far = make_meeting(group, title="Later meeting", starts_in=timedelta(days=20), reminder_days=2)
    accepted, tentative, declined, pending = members
    invite_user(meeting, accepted, response="accepted")
    invite_user(meeting, tentative, response="tentative")
    invite_user(meeting, declined, response="declined")
    invite_user(meeting, pending)
    invite_user(far, accepted, response="accepted")
    db.session.commit()

    result = runner.invoke(args=["consultations", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Queued 3 reminder(s)" in result.output
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    smtp_server.wait_for(3)
    assert sorted(str(m["To"]) for m in smtp_server.messages) == sorted(
        [accepted.email, tentative.email, pending.email]
    )
    assert all(m["Subject"] == f"Reminder: {meeting.title}" for m in smtp_server.messages)
    assert all(
        f"{BASE}/consultations/meetings/{meeting.id}" in smtp_server.text(m)
        for m in smtp_server.messages
    )
    assert not smtp_server.to(outsider.email) and not smtp_server.to(declined.email)

    # Running again sends nothing more: exactly once.
    result = runner.invoke(args=["consultations", "send-reminders"])
    assert "Queued 0 reminder(s)" in result.output
    runner.invoke(args=["mail", "send"])
    assert len(smtp_server.messages) == 3

    # The later meeting's reminder comes when it is 2 days away, not before.
    assert send_due_reminders(now=utcnow() + timedelta(days=10)) == 0
    assert send_due_reminders(now=utcnow() + timedelta(days=18, hours=1)) == 1
    db.session.commit()


def test_consultations_worker_round_queues_and_delivers(runner, smtp_server):
    _group, members, _o, _s, meeting = _setup(1, starts_in=timedelta(hours=30))
    invite_user(meeting, members[0], response="accepted")
    db.session.commit()
    email = members[0].email  # the worker ends its round with a fresh session
    result = runner.invoke(args=["consultations", "worker", "--once"])
    assert result.exit_code == 0, result.output
    smtp_server.wait_for(1)
    assert [str(m["To"]) for m in smtp_server.messages] == [email]


# --------------------------------------------------------------------------- iCalendar


def _events(body: bytes):
    cal = icalendar.Calendar.from_ical(body)
    return [c for c in cal.walk("VEVENT")]


def test_meeting_ics_attendees_and_partstat_match_rsvps(client, app):
    _group, members, _outsider, staff, meeting = _setup(
        3, timezone="Africa/Nairobi", description="Resource mobilisation."
    )
    invite_user(meeting, members[0], response="accepted")
    invite_user(meeting, members[1], response="declined")
    invite_user(meeting, members[2])
    db.session.commit()
    login(client, members[0].email)
    resp = client.get(f"/consultations/meetings/{meeting.id}.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(resp.data)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Africa/Nairobi"]
    (event,) = _events(resp.data)
    assert str(event["SUMMARY"]) == meeting.title
    assert str(event["UID"]).startswith(f"meeting-{meeting.id}@")
    assert event["DTSTART"].params["TZID"] == "Africa/Nairobi"
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=3)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "ORGANIZER" in event
    partstat = {str(a).removeprefix("mailto:"): a.params["PARTSTAT"] for a in event.get("ATTENDEE")}
    assert partstat == {
        members[0].email: "ACCEPTED",
        members[1].email: "DECLINED",
        members[2].email: "NEEDS-ACTION",
    }

    # An RSVP changes the exported PARTSTAT.
    login_client = app.test_client()
    login(login_client, members[2].email)
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == members[2].id))
    login_client.post(
        f"/consultations/invitations/{invitation.id}/rsvp", data={"response": "tentative"}
    )
    (event,) = _events(client.get(f"/consultations/meetings/{meeting.id}.ics").data)
    partstat = {str(a).removeprefix("mailto:"): a.params["PARTSTAT"] for a in event.get("ATTENDEE")}
    assert partstat[members[2].email] == "TENTATIVE"


def test_cancelled_meeting_exports_status_cancelled_with_bumped_sequence(client):
    _group, _members, _o, staff, meeting = _setup(1)
    login(client, staff.email)
    form = {
        "title": meeting.title,
        "group_id": str(meeting.group_id),
        "starts_local": "2031-01-01T10:00",
        "ends_local": "2031-01-01T12:00",
        "timezone": "UTC",
        "mode": "online",
        "online_url": "https://meet.example.org/x",
        "reminder_days": "2",
        "status": "cancelled",
    }
    assert client.post(f"/consultations/meetings/{meeting.id}/edit", data=form).status_code == 303
    (event,) = _events(client.get(f"/consultations/meetings/{meeting.id}.ics").data)
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) >= 1


def test_public_ics_has_no_attendee_addresses(client):
    _group, members, _o, _s, meeting = _setup(1)
    invite_user(meeting, members[0], response="accepted")
    db.session.commit()
    resp = client.get(f"/consultations/meetings/{meeting.id}.ics")  # anonymous, public group
    assert resp.status_code == 200
    (event,) = _events(resp.data)
    assert "ATTENDEE" not in event
    assert members[0].email.encode() not in resp.data


def test_personal_feed_lists_the_users_meetings_and_can_be_revoked(client, app):
    group, members, _o, _s, meeting = _setup(1)
    other = make_meeting(group, title="Second consultation", starts_in=timedelta(days=40))
    draft = make_meeting(group, title="Secret draft", status="draft")
    not_invited = make_meeting(group, title="Not for me")
    for m in (meeting, other, draft):
        invite_user(m, members[0])
    db.session.commit()
    user = members[0]
    login(client, user.email)
    page = client.get("/consultations/").get_data(as_text=True)
    token = feed_token(user)
    db.session.commit()
    assert f"/consultations/feed/{token}.ics" in page

    anonymous = app.test_client()  # calendar apps have no session
    resp = anonymous.get(f"/consultations/feed/{token}.ics")
    assert resp.status_code == 200
    titles = sorted(str(e["SUMMARY"]) for e in _events(resp.data))
    assert titles == sorted([meeting.title, "Second consultation"])
    assert draft.title not in titles and not_invited.title not in titles

    assert anonymous.get(f"/consultations/feed/{token[:-2]}xx.ics").status_code == 404
    client.post("/consultations/feed/reset")
    assert anonymous.get(f"/consultations/feed/{token}.ics").status_code == 404
    new_token = feed_token(user)
    assert anonymous.get(f"/consultations/feed/{new_token}.ics").status_code == 200


def test_invitation_shows_times_in_the_recipients_language_and_own_time_zone(client, smtp_server):
    """Issue 13: Babel's date words of the recipient's language, the meeting's zone and the
    recipient's own zone; the calendar text's labels translated too."""
    from datetime import UTC, datetime

    from portal.consultations.models import ConsultationPreference, Meeting

    _group, members, _outsider, staff, meeting = _setup(1, timezone="Africa/Nairobi")
    member = members[0]
    member.locale = "zh"
    db.session.add(
        ConsultationPreference(user_id=member.id, timezone="Asia/Shanghai", feed_key="k")
    )
    meeting = db.session.get(Meeting, meeting.id)
    meeting.starts_at = datetime(2031, 1, 16, 11, 0, tzinfo=UTC)  # a Thursday
    meeting.ends_at = datetime(2031, 1, 16, 13, 0, tzinfo=UTC)
    meeting.engagement_areas = "monitoring-reporting"
    db.session.commit()
    login(client, staff.email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/invite",
        data={"scope": "group"},
        follow_redirects=True,
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:3000]
    [message] = smtp_server.wait_for(1)
    body = smtp_server.text(message)
    assert "2031年1月16日周四 14:00 EAT" in body  # the meeting's zone, in Chinese
    assert "2031年1月16日周四 19:00" in body  # the recipient's zone (Shanghai, UTC+8)
    assert "Thu" not in body and "Jan" not in body
    [ics] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    [event] = icalendar.Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")
    assert "Engagement areas" not in str(event["description"])
