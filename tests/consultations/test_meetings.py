"""Advisory groups, meetings, agenda and proposals, through the pages staff and members use."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.consultations.models import (
    AdvisoryGroup,
    AgendaDocument,
    AgendaItem,
    GroupMember,
    Invitation,
    Meeting,
)
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from tests.conftest import login
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_org, make_user


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _meeting_form(group_id: int, **overrides) -> dict:
    data = {
        "title": "Consultation on the World Cities Report",
        "group_id": str(group_id),
        "description": "Knowledge products.",
        "engagement_areas": ["knowledge-products", "advocacy"],
        "starts_local": "2031-03-10T14:00",
        "ends_local": "2031-03-10T16:00",
        "timezone": "Africa/Nairobi",
        "mode": "online",
        "location": "",
        "online_url": "https://meet.example.org/wcr",
        "capacity": "",
        "agenda_cutoff_local": "2031-03-08T12:00",
        "reminder_days": "2",
        "status": "scheduled",
    }
    data.update(overrides)
    return data


def _staff(client):
    staff = make_user(Role.STAFF, email="staff@unhabitat.example")
    db.session.commit()
    login(client, staff.email)
    return staff


# --------------------------------------------------------------------------- groups


def test_staff_create_group_add_member_and_archive(client):
    _staff(client)
    org = make_org("Slum Dwellers International")
    partner = make_user(email="amina@sdi.example", name="Amina Mwangi", organization=org)
    db.session.commit()

    resp = client.post(
        "/consultations/groups/new",
        data={"name": "Stakeholder Advisory Group", "description": "Para. 37", "is_public": "y"},
    )
    assert resp.status_code == 303
    group = db.session.scalar(select(AdvisoryGroup))
    assert group.is_public

    resp = client.post(
        f"/consultations/groups/{group.id}/members",
        data={
            "email": partner.email,
            "role": "chair",
            "organization_id": str(org.id),
            "constituency": "grassroots",
        },
        follow_redirects=True,
    )
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Amina Mwangi" in page and "Chair" in page and "Grassroots organisations" in page

    # The same person twice: a clear error beside the e-mail field, no second row.
    resp = client.post(
        f"/consultations/groups/{group.id}/members", data={"email": partner.email, "role": "member"}
    )
    assert resp.status_code == 400
    assert "already a member" in resp.get_data(as_text=True)
    assert _count(GroupMember) == 1

    # An unknown address is refused too.
    resp = client.post(
        f"/consultations/groups/{group.id}/members",
        data={"email": "nobody@example.org", "role": "member"},
    )
    assert resp.status_code == 400 and "Create their account first" in resp.get_data(as_text=True)

    resp = client.post(f"/consultations/groups/{group.id}/archive", follow_redirects=True)
    assert "Group archived." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(AdvisoryGroup, group.id).archived_at is not None


def test_group_name_must_be_unique(client):
    _staff(client)
    make_group("Youth Advisory Board")
    db.session.commit()
    resp = client.post("/consultations/groups/new", data={"name": "youth advisory board"})
    assert resp.status_code == 400
    assert "Another group already has this name." in resp.get_data(as_text=True)
    assert _count(AdvisoryGroup) == 1


def test_index_lists_visible_groups_and_upcoming_meetings(client):
    public = make_group("Open Group")
    make_group("Closed Group", is_public=False)
    make_meeting(public, title="Resource mobilisation round-table")
    make_meeting(public, title="Past meeting", starts_in=timedelta(days=-5))
    db.session.commit()
    page = client.get("/consultations/").get_data(as_text=True)
    assert "Open Group" in page and "Resource mobilisation round-table" in page
    assert "Closed Group" not in page and "Past meeting" not in page


# --------------------------------------------------------------------------- meetings


def test_staff_schedule_meeting_stores_utc_and_shows_both_zones(client):
    staff = _staff(client)
    group = make_group()
    db.session.commit()
    resp = client.get(f"/consultations/meetings/new?group_id={group.id}")
    page = resp.get_data(as_text=True)
    assert "Schedule a meeting" in page and "Africa/Nairobi" in page

    resp = client.post("/consultations/meetings/new", data=_meeting_form(group.id))
    assert resp.status_code == 303
    meeting = db.session.scalar(select(Meeting))
    # 14:00 in Nairobi (UTC+3) is 11:00 UTC.
    assert as_utc(meeting.starts_at) == datetime(2031, 3, 10, 11, 0, tzinfo=UTC)
    assert as_utc(meeting.agenda_cutoff_at) == datetime(2031, 3, 8, 9, 0, tzinfo=UTC)
    assert meeting.area_list == ["knowledge-products", "advocacy"]
    assert meeting.created_by_id == staff.id
    assert meeting.mode == "online"


def test_hybrid_meeting_keeps_its_mode_place_and_seats(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    form = _meeting_form(group.id, mode="hybrid", location="UN Gigiri, Nairobi", capacity="12")
    assert client.post("/consultations/meetings/new", data=form).status_code == 303
    meeting = db.session.scalar(select(Meeting))
    assert (meeting.mode, meeting.location, meeting.capacity) == (
        "hybrid",
        "UN Gigiri, Nairobi",
        12,
    )
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "UN Gigiri, Nairobi" in page

    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "14:00 EAT" in page  # meeting's own zone
    assert "Your time:" in page and "11:00 UTC" in page  # viewer chose no zone: UTC

    # The viewer picks a zone: times are shown in it as well.
    client.post("/consultations/preferences/timezone", data={"timezone": "America/New_York"})
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "07:00 EDT" in page  # US daylight time began on 9 March 2031


def test_editing_a_meeting_bumps_the_calendar_sequence(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    client.post("/consultations/meetings/new", data=_meeting_form(group.id))
    meeting = db.session.scalar(select(Meeting))
    assert meeting.sequence == 0
    # The edit form shows the local wall-clock time again, not UTC.
    page = client.get(f"/consultations/meetings/{meeting.id}/edit").get_data(as_text=True)
    assert 'value="2031-03-10T14:00"' in page and "checked" in page
    form = _meeting_form(group.id, starts_local="2031-03-10T15:00", ends_local="2031-03-10T17:00")
    resp = client.post(f"/consultations/meetings/{meeting.id}/edit", data=form)
    assert resp.status_code == 303
    db.session.expire_all()
    meeting = db.session.get(Meeting, meeting.id)
    assert meeting.sequence == 1
    assert as_utc(meeting.starts_at).hour == 12


def _assert_refused(client, form, field_message: str):
    before = _count(Meeting)
    resp = client.post("/consultations/meetings/new", data=form)
    assert resp.status_code == 400
    assert field_message in resp.get_data(as_text=True)
    assert _count(Meeting) == before


def test_bad_meeting_input_gets_clear_errors_and_saves_nothing(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    _assert_refused(
        client,
        _meeting_form(group.id, ends_local="2031-03-10T13:00"),
        "The meeting must end after it starts.",
    )
    _assert_refused(
        client,
        _meeting_form(group.id, timezone="Mars/Olympus_Mons"),
        "“Mars/Olympus_Mons” is not a known time zone.",
    )
    _assert_refused(
        client,
        _meeting_form(group.id, online_url=""),
        "Enter the meeting link: this meeting is held online.",
    )
    _assert_refused(
        client,
        _meeting_form(group.id, mode="in-person", location="", capacity="-3"),
        "The number of seats cannot be negative.",
    )
    _assert_refused(
        client,
        _meeting_form(group.id, mode="hybrid", location=""),
        "Enter the place: this meeting is held in person.",
    )
    # The error sits beside its field (linked by aria-describedby).
    resp = client.post(
        "/consultations/meetings/new", data=_meeting_form(group.id, ends_local="2031-03-09T10:00")
    )
    assert 'id="ends_local-err"' in resp.get_data(as_text=True)


def test_members_cannot_schedule_or_edit_meetings(client):
    group = make_group()
    member = make_user(email="member@example.org")
    add_member(group, member)
    meeting = make_meeting(group)
    db.session.commit()
    login(client, member.email)
    assert client.get("/consultations/meetings/new").status_code == 403
    assert (
        client.post("/consultations/meetings/new", data=_meeting_form(group.id)).status_code == 403
    )
    resp = client.post(f"/consultations/meetings/{meeting.id}/edit", data=_meeting_form(group.id))
    assert resp.status_code == 403
    assert _count(Meeting) == 1


# --------------------------------------------------------------------------- agenda


def test_agenda_items_are_ordered_and_can_be_moved(client):
    _staff(client)
    meeting = make_meeting(make_group())
    db.session.commit()
    for title in ("Opening", "Resource mobilisation", "Any other business"):
        resp = client.post(
            f"/consultations/meetings/{meeting.id}/agenda",
            data={"item-title": title, "item-presenter": "Chair", "item-duration_minutes": "15"},
        )
        assert resp.status_code == 303
    items = db.session.scalars(select(AgendaItem).order_by(AgendaItem.position)).all()
    assert [i.title for i in items] == ["Opening", "Resource mobilisation", "Any other business"]

    last = items[2]
    client.post(
        f"/consultations/meetings/{meeting.id}/agenda/{last.id}/move", data={"direction": "up"}
    )
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert page.index("Any other business") < page.index("Resource mobilisation")
    assert page.index("Opening") < page.index("Any other business")


def test_member_proposes_item_before_cutoff_staff_decline_with_note(client, app):
    group = make_group()
    member = make_user(email="member@example.org", name="Member One")
    add_member(group, member)
    staff = make_user(Role.STAFF, email="staff@example.org")
    meeting = make_meeting(group, agenda_cutoff_at=utcnow() + timedelta(days=3))
    db.session.commit()

    login(client, member.email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/agenda/propose",
        data={"propose-title": "Youth engagement in WUF", "propose-duration_minutes": "10"},
        follow_redirects=True,
    )
    assert "your proposal was sent" in resp.get_data(as_text=True)
    item = db.session.scalar(select(AgendaItem))
    assert item.status == "proposed" and item.proposed_by_id == member.id

    staff_client = app.test_client()
    login(staff_client, staff.email)
    # Declining needs a note for the member.
    resp = staff_client.post(
        f"/consultations/meetings/{meeting.id}/agenda/{item.id}/decide",
        data={"decision": "decline", "note": ""},
        follow_redirects=True,
    )
    assert "Say why the proposal is declined" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(AgendaItem, item.id).status == "proposed"
    staff_client.post(
        f"/consultations/meetings/{meeting.id}/agenda/{item.id}/decide",
        data={"decision": "decline", "note": "Covered at the next meeting."},
    )
    db.session.expire_all()
    assert db.session.get(AgendaItem, item.id).status == "declined"
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "Covered at the next meeting." in page


def test_proposals_close_at_the_cutoff(client):
    group = make_group()
    member = make_user(email="member@example.org")
    add_member(group, member)
    meeting = make_meeting(group, agenda_cutoff_at=utcnow() - timedelta(hours=1))
    db.session.commit()
    login(client, member.email)
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "Propose an agenda item" not in page
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/agenda/propose", data={"propose-title": "Late idea"}
    )
    assert resp.status_code == 400
    assert "Agenda proposals for this meeting are closed." in resp.get_data(as_text=True)
    assert _count(AgendaItem) == 0


def test_non_members_cannot_propose(client):
    meeting = make_meeting(make_group())
    outsider = make_user(email="outsider@example.org")
    db.session.commit()
    login(client, outsider.email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/agenda/propose", data={"propose-title": "Hello"}
    )
    assert resp.status_code == 403
    assert _count(AgendaItem) == 0


def test_agenda_document_upload_and_permission_checked_download(client, app):
    _staff(client)
    group = make_group("Private Group", is_public=False)
    member = make_user(email="member@example.org")
    add_member(group, member)
    outsider = make_user(email="outsider@example.org")
    meeting = make_meeting(group)
    item = AgendaItem(meeting=meeting, title="Draft report", position=1)
    db.session.add(item)
    db.session.commit()

    resp = client.post(
        f"/consultations/meetings/{meeting.id}/agenda/{item.id}/documents",
        data={"title": "Draft WCR chapter", "file": (io.BytesIO(b"%PDF-1.4 draft"), "wcr.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    doc = db.session.scalar(select(AgendaDocument))
    url = f"/consultations/meetings/{meeting.id}/documents/{doc.id}"

    member_client = app.test_client()
    login(member_client, member.email)
    resp = member_client.get(url)
    assert resp.status_code == 200 and resp.data == b"%PDF-1.4 draft"
    assert resp.headers["Cache-Control"] == "private, no-store"

    outsider_client = app.test_client()
    login(outsider_client, outsider.email)
    assert outsider_client.get(url).status_code == 404
    assert app.test_client().get(url).status_code == 404


def test_oversized_or_fake_agenda_attachment_is_refused(client, app):
    _staff(client)
    meeting = make_meeting(make_group())
    item = AgendaItem(meeting=meeting, title="Budget", position=1)
    db.session.add(item)
    db.session.commit()
    previous = app.config.get("MAX_DOCUMENT_BYTES")
    app.config["MAX_DOCUMENT_BYTES"] = 1024
    try:
        resp = client.post(
            f"/consultations/meetings/{meeting.id}/agenda/{item.id}/documents",
            data={"title": "Huge", "file": (io.BytesIO(b"%PDF-" + b"x" * 4096), "huge.pdf")},
            content_type="multipart/form-data",
        )
    finally:
        app.config["MAX_DOCUMENT_BYTES"] = previous
    assert resp.status_code == 400
    assert "The file is larger than" in resp.get_data(as_text=True)
    assert _count(AgendaDocument) == 0

    resp = client.post(
        f"/consultations/meetings/{meeting.id}/agenda/{item.id}/documents",
        data={"title": "Fake", "file": (io.BytesIO(b"not a pdf"), "fake.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    assert "does not match" in resp.get_data(as_text=True)
    assert _count(AgendaDocument) == 0


# --------------------------------------------------------------------------- invitations (page)


def test_invite_whole_group_skips_already_invited_and_counts_them(client):
    _staff(client)
    group = make_group()
    people = [make_user(email=f"m{n}@example.org", name=f"Member {n}") for n in range(3)]
    for person in people:
        add_member(group, person)
    meeting = make_meeting(group)
    invite_user(meeting, people[0])
    db.session.commit()
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/invite",
        data={"scope": "group"},
        follow_redirects=True,
    )
    page = resp.get_data(as_text=True)
    assert "2 invitations sent." in page and "1 member already invited was skipped." in page
    assert _count(Invitation) == 3


def test_duplicate_chosen_invitation_is_an_error_and_nobody_is_invited(client):
    _staff(client)
    group = make_group()
    first = make_user(email="first@example.org", name="First Person")
    second = make_user(email="second@example.org", name="Second Person")
    add_member(group, first)
    add_member(group, second)
    meeting = make_meeting(group)
    invite_user(meeting, first)
    db.session.commit()
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/invite",
        data={"scope": "chosen", "members": [str(first.id), str(second.id)]},
    )
    assert resp.status_code == 400
    assert "Already invited to this meeting: First Person." in resp.get_data(as_text=True)
    assert _count(Invitation) == 1  # second was not invited either: nothing half-saved


def test_draft_meetings_cannot_have_invitations(client):
    _staff(client)
    group = make_group()
    add_member(group, make_user())
    meeting = make_meeting(group, status="draft")
    db.session.commit()
    resp = client.post(f"/consultations/meetings/{meeting.id}/invite", data={"scope": "group"})
    assert resp.status_code == 400
    assert "set its status to Scheduled first" in resp.get_data(as_text=True)
    assert _count(Invitation) == 0


# --------------------------------------------------------------------------- RSVP


def _rsvp(client, invitation_id, **data):
    return client.post(f"/consultations/invitations/{invitation_id}/rsvp", data=data)


def test_rsvp_with_comment_and_hybrid_attendance(client):
    group = make_group()
    member = make_user(email="member@example.org")
    add_member(group, member)
    meeting = make_meeting(group, mode="hybrid")
    invitation = invite_user(meeting, member)
    db.session.commit()
    login(client, member.email)
    # Hybrid: say how you attend.
    resp = _rsvp(client, invitation.id, response="accepted")
    assert resp.status_code == 400 and "in person or online" in resp.get_data(as_text=True)
    resp = _rsvp(
        client, invitation.id, response="accepted", attendance="online", comment="From Bogotá"
    )
    assert resp.status_code == 303
    db.session.expire_all()
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.response == "accepted" and not invitation.attend_in_person
    assert invitation.comment == "From Bogotá"
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "Your answer:" in page and "Accepted" in page


def test_capacity_waiting_list_and_promotion(client, app):
    group = make_group()
    people = [make_user(email=f"p{n}@example.org") for n in range(3)]
    for person in people:
        add_member(group, person)
    meeting = make_meeting(group, mode="in-person", capacity=1)
    invitations = [invite_user(meeting, p) for p in people]
    db.session.commit()
    clients = []
    for person, invitation in zip(people, invitations, strict=True):
        c = app.test_client()
        login(c, person.email)
        assert _rsvp(c, invitation.id, response="accepted").status_code == 303
        clients.append(c)
    db.session.expire_all()
    states = [db.session.get(Invitation, i.id).waitlisted for i in invitations]
    assert states == [False, True, True]
    page = clients[1].get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "on the waiting list" in page

    # The seated person declines: the first on the waiting list gets the seat.
    _rsvp(clients[0], invitations[0].id, response="declined")
    db.session.expire_all()
    states = [db.session.get(Invitation, i.id).waitlisted for i in invitations]
    assert states == [False, False, True]


def test_rsvp_after_the_meeting_is_refused(client):
    group = make_group()
    member = make_user(email="member@example.org")
    add_member(group, member)
    meeting = make_meeting(group, starts_in=timedelta(days=-1))
    invitation = invite_user(meeting, member)
    db.session.commit()
    login(client, member.email)
    resp = _rsvp(client, invitation.id, response="accepted")
    assert resp.status_code == 400
    assert "This meeting has ended: answers are closed." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).response == "pending"
