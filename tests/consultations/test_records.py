"""The record of a meeting: attendance register, minutes workflow, sanitising, revisions and
diffs, the lock after publishing, concurrent edits, and who may see or edit what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.accounts.models import Role
from portal.consultations import records_services as services
from portal.consultations.models import (
    AttendanceRecord,
    Minutes,
    MinutesRevision,
)
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from tests.conftest import login
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_org, make_user

pytest_plugins = ["tests.smtp"]


@pytest.fixture
def people():
    """A group with a secretariat member, two members and an outsider; one meeting."""
    org = make_org("Slum Dwellers International", country="KE")
    staff = make_user(Role.STAFF, email="staff@unhabitat.example", name="Staff One")
    staff2 = make_user(Role.STAFF, email="staff2@unhabitat.example", name="Staff Two")
    secretary = make_user(email="sec@example.org", name="Sara Secretariat")
    amina = make_user(email="amina@example.org", name="Amina Mwangi", organization=org)
    li = make_user(email="li@example.org", name="Li Wei")
    guest = make_user(email="guest@example.org", name="Guest Speaker")
    outsider = make_user(email="outsider@example.org", name="Olga Outsider")
    group = make_group("Stakeholder Advisory Group", is_public=False)
    add_member(group, secretary, role="secretariat")
    add_member(group, amina, organization_id=org.id)
    add_member(group, li)
    meeting = make_meeting(group, title="July consultation", starts_in=timedelta(days=-1))
    for user in (amina, li, guest):
        invite_user(meeting, user, response="accepted")
    db.session.commit()
    return {
        "staff": staff,
        "staff2": staff2,
        "secretary": secretary,
        "amina": amina,
        "li": li,
        "guest": guest,
        "outsider": outsider,
        "group": group,
        "meeting": meeting,
    }


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _save(client, meeting_id: int, body: str, version: int):
    return client.post(
        f"/consultations/meetings/{meeting_id}/minutes/edit",
        data={"body": body, "version": str(version)},
    )


def _transition(client, meeting_id: int, action: str):
    minutes = db.session.scalar(select(Minutes).where(Minutes.meeting_id == meeting_id))
    db.session.refresh(minutes)
    return client.post(
        f"/consultations/meetings/{meeting_id}/minutes/{action}",
        data={"version": str(minutes.version)},
        follow_redirects=True,
    )


def _publish(client, meeting_id: int, body: str):
    assert _save(client, meeting_id, body, 0).status_code == 302
    for action in ("circulate", "approve", "publish"):
        assert _transition(client, meeting_id, action).status_code == 200


# --- attendance -------------------------------------------------------------------------------


def test_secretariat_keeps_the_register_in_one_form_and_it_feeds_the_minutes(client, people):
    meeting = people["meeting"]
    login(client, people["secretary"].email)
    page = _text(client.get(f"/consultations/meetings/{meeting.id}/attendance"))
    # Invitees, members who were not invited and the secretariat itself are all on the register.
    for name in ("Amina Mwangi", "Li Wei", "Guest Speaker", "Sara Secretariat"):
        assert f"Attendance of {name}" in page

    resp = client.post(
        f"/consultations/meetings/{meeting.id}/attendance",
        data={
            f"status-{people['amina'].id}": "present",
            f"status-{people['li'].id}": "excused",
            f"status-{people['guest'].id}": "absent",
            f"status-{people['secretary'].id}": "present",
        },
    )
    assert resp.status_code == 302
    records = {r.user_id: r.status for r in db.session.scalars(select(AttendanceRecord)).all()}
    assert records == {
        people["amina"].id: "present",
        people["li"].id: "excused",
        people["guest"].id: "absent",
        people["secretary"].id: "present",
    }

    # The generated block appears on the minutes editor and, once published, in the minutes.
    _save(client, meeting.id, "# July consultation\n\nDiscussion.", 0)
    login(client, people["staff"].email)
    for action in ("circulate", "approve", "publish"):
        _transition(client, meeting.id, action)
    login(client, people["amina"].email)
    page = _text(client.get(f"/consultations/meetings/{meeting.id}/minutes"))
    assert "Present" in page and "Apologies (excused)" in page and "Absent" in page
    assert "Amina Mwangi (Slum Dwellers International)" in page
    assert "Guest Speaker" in page


def test_register_refuses_a_bad_status_and_saves_nothing(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/attendance",
        data={f"status-{people['amina'].id}": "present", f"status-{people['li'].id}": "asleep"},
    )
    assert resp.status_code == 400
    assert "Choose present, absent or excused." in _text(resp)
    assert db.session.scalar(select(func.count(AttendanceRecord.id))) == 0


def test_members_cannot_keep_the_register(client, people):
    login(client, people["amina"].email)
    url = f"/consultations/meetings/{people['meeting'].id}/attendance"
    assert client.get(url).status_code == 403
    assert client.post(url, data={f"status-{people['li'].id}": "absent"}).status_code == 403
    assert db.session.scalar(select(func.count(AttendanceRecord.id))) == 0


def test_attendee_confirms_own_presence_once_the_meeting_has_started(client, people):
    meeting = people["meeting"]  # started yesterday
    future = make_meeting(people["group"], title="Next month", starts_in=timedelta(days=20))
    invite_user(future, people["amina"])
    db.session.commit()
    login(client, people["amina"].email)

    page = _text(client.get(f"/consultations/meetings/{meeting.id}"))
    assert "Confirm I am present" in page
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/attendance/confirm", follow_redirects=True
    )
    assert "your presence is recorded" in _text(resp)
    record = db.session.scalar(select(AttendanceRecord))
    assert (record.user_id, record.status, record.self_confirmed) == (
        people["amina"].id,
        "present",
        True,
    )

    resp = client.post(
        f"/consultations/meetings/{future.id}/attendance/confirm", follow_redirects=True
    )
    assert "once the meeting has started" in _text(resp)
    assert db.session.scalar(select(func.count(AttendanceRecord.id))) == 1

    # An outsider cannot confirm anything (the private meeting does not exist for them).
    login(client, people["outsider"].email)
    assert (
        client.post(f"/consultations/meetings/{meeting.id}/attendance/confirm").status_code == 404
    )


# --- minutes workflow -------------------------------------------------------------------------


def test_minutes_workflow_circulates_to_members_by_mail_then_publishes_and_locks(
    app, client, people, smtp_server
):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    resp = _save(client, meeting.id, "# Minutes\n\n1. Welcome by the chair.", 0)
    assert resp.status_code == 302
    minutes = db.session.scalar(select(Minutes))
    assert (minutes.status, minutes.version) == ("draft", 1)

    resp = _transition(client, meeting.id, "circulate")
    assert "members have been e-mailed" in _text(resp)
    recipients = sorted(m.to_address for m in db.session.scalars(select(OutgoingMail)).all())
    # Current members of the group (secretariat included), not the guest invitee.
    assert recipients == ["amina@example.org", "li@example.org", "sec@example.org"]
    assert len(smtp_server.messages) == 3
    body = smtp_server.text(smtp_server.messages[0])
    assert f"/consultations/meetings/{meeting.id}/minutes" in body
    assert "July consultation" in smtp_server.messages[0]["Subject"]

    _transition(client, meeting.id, "approve")
    resp = _transition(client, meeting.id, "publish")
    assert "now locked" in _text(resp)
    db.session.refresh(minutes)
    assert minutes.status == "published" and minutes.published_at is not None

    # Locked: the editor is refused with a clear message and nothing changes.
    resp = client.get(f"/consultations/meetings/{meeting.id}/minutes/edit", follow_redirects=True)
    assert "published and locked" in _text(resp)
    resp = _save(client, meeting.id, "Rewritten history", minutes.version)
    assert resp.status_code == 409
    assert "published and locked" in _text(resp)
    assert "Rewritten history" in _text(resp)  # the user's text is shown back, not lost
    db.session.refresh(minutes)
    assert minutes.body == "# Minutes\n\n1. Welcome by the chair."
    assert _transition(client, meeting.id, "withdraw").status_code == 200
    db.session.refresh(minutes)
    assert minutes.status == "published"


def test_every_save_and_status_change_keeps_a_revision(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    _save(client, meeting.id, "First draft", 0)
    _save(client, meeting.id, "Second draft", 1)
    _save(client, meeting.id, "Second draft", 2)  # unchanged text: no new version
    _transition(client, meeting.id, "circulate")
    revisions = db.session.scalars(select(MinutesRevision).order_by(MinutesRevision.version)).all()
    assert [(r.version, r.body, r.status) for r in revisions] == [
        (1, "First draft", "draft"),
        (2, "Second draft", "draft"),
        (3, "Second draft", "circulated"),
    ]


def test_editing_approved_minutes_withdraws_the_approval(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    _save(client, meeting.id, "Text the group approved", 0)
    _transition(client, meeting.id, "circulate")
    _transition(client, meeting.id, "approve")
    minutes = db.session.scalar(select(Minutes))
    db.session.refresh(minutes)
    assert _save(client, meeting.id, "Text changed afterwards", minutes.version).status_code == 302
    db.session.refresh(minutes)
    assert minutes.status == "draft" and minutes.approved_at is None
    # Publishing needs approval of the current text first.
    resp = _transition(client, meeting.id, "publish")
    assert "“Publish minutes” is not possible: the minutes are “Draft”." in _text(resp)


def test_markdown_is_sanitised_no_script_no_event_handlers(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    hostile = (
        "# Decisions\n\n"
        "<script>alert('minutes')</script>\n\n"
        '<img src="x" onerror="alert(1)">\n\n'
        '<a href="https://habitat.example/report" onclick="steal()">report</a> and '
        "[bad](javascript:alert(2)) and **bold**\n\n"
        '<p style="color:red" onmouseover="alert(3)">Styled</p>'
    )
    _publish(client, meeting.id, hostile)
    login(client, people["amina"].email)
    page = _text(client.get(f"/consultations/meetings/{meeting.id}/minutes"))
    body = page.split('class="card minutes-body"', 1)[1].split("</article>", 1)[0]
    assert "<script" not in body and "alert('minutes')" not in body
    for bad in ("onerror", "onclick", "onmouseover", "javascript:", "style="):
        assert bad not in body
    assert "<h1>Decisions</h1>" in body and "<strong>bold</strong>" in body
    assert 'href="https://habitat.example/report"' in body
    assert 'rel="noopener nofollow"' in body


def test_revision_diff_table_and_unified_views_escape_text(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    _save(client, meeting.id, "Intro\nThe group noted <b>progress</b>.\nEnd", 0)
    _save(client, meeting.id, "Intro\nThe group welcomed progress on the WUF.\nEnd\nAOB", 1)
    url = f"/consultations/meetings/{meeting.id}/minutes/history"

    table = _text(client.get(url, query_string={"a": 1, "b": 2, "view": "table"}))
    assert "Differences between v1 and v2" in table
    assert "The group noted &lt;b&gt;progress&lt;/b&gt;." in table
    assert "<b>progress</b>" not in table
    assert "The group welcomed progress on the WUF." in table
    assert 'class="diff-insert"' in table  # "AOB" was added

    unified = _text(client.get(url, query_string={"a": 1, "b": 2, "view": "unified"}))
    assert '<span class="del">-The group noted &lt;b&gt;progress&lt;/b&gt;.</span>' in unified
    assert '<span class="add">+AOB</span>' in unified

    resp = client.get(url, query_string={"a": 1, "b": 99})
    assert resp.status_code == 400
    assert "no such revision" in _text(resp)

    # Members read minutes; the drafting history is the secretariat's.
    login(client, people["amina"].email)
    assert client.get(url).status_code == 403


def test_second_staff_save_is_refused_and_their_text_is_kept(app, people):
    meeting = people["meeting"]
    first, second = app.test_client(), app.test_client()
    login(first, people["staff"].email)
    login(second, people["staff2"].email)
    assert _save(first, meeting.id, "Agreed text v1", 0).status_code == 302

    # Both open the editor on version 1.
    for client in (first, second):
        page = _text(client.get(f"/consultations/meetings/{meeting.id}/minutes/edit"))
        assert 'name="version" type="hidden" value="1"' in page

    assert _save(first, meeting.id, "Staff One's careful wording", 1).status_code == 302
    resp = _save(second, meeting.id, "Staff Two's competing wording", 1)
    assert resp.status_code == 409
    page = _text(resp)
    assert "Staff One saved these minutes (version 2) while you were editing" in page
    # Their own text is back in the box, and the current text is shown beside it.
    assert "<textarea" in page and "Staff Two&#39;s competing wording" in page
    assert "Staff One&#39;s careful wording" in page
    minutes = db.session.scalar(select(Minutes))
    db.session.refresh(minutes)
    assert minutes.body == "Staff One's careful wording"
    # The form now carries version 2, so saving the merged text goes through.
    assert 'name="version" type="hidden" value="2"' in page
    assert _save(second, meeting.id, "Merged wording", 2).status_code == 302


def test_a_save_racing_past_the_version_check_is_still_refused(people):
    """Two requests pass the Python check at the same moment: the UPDATE … WHERE version = n
    of the slower one matches nothing, and it becomes a conflict, not a lost update."""
    meeting, staff = people["meeting"], people["staff"]
    services.save_minutes(staff, meeting, "First", 0)
    db.session.commit()
    minutes = meeting.minutes
    assert minutes.version == 1
    # Another transaction bumps the row behind this session's back.
    db.session.execute(
        update(Minutes).where(Minutes.id == minutes.id).values(version=2, body="Theirs")
    )
    with pytest.raises(services.MinutesConflict):
        services.save_minutes(staff, meeting, "Mine", 1)
    db.session.rollback()
    db.session.refresh(minutes)
    assert minutes.body == "First"  # the bump above was in the rolled-back transaction too


# --- who sees what ----------------------------------------------------------------------------


def test_outsiders_cannot_see_a_private_groups_minutes_at_any_stage(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    _save(client, meeting.id, "Confidential draft about funding", 0)
    url = f"/consultations/meetings/{meeting.id}/minutes"

    for who in ("outsider", None):
        client.post("/account/logout")
        if who:
            login(client, people[who].email)
        resp = client.get(url)
        assert resp.status_code == 404
        assert "Confidential draft" not in _text(resp)

    # Members do not see a draft either; they do once it is circulated.
    login(client, people["amina"].email)
    resp = client.get(url)
    assert resp.status_code == 404 and "Confidential draft" not in _text(resp)
    login(client, people["staff"].email)
    _transition(client, meeting.id, "circulate")
    login(client, people["amina"].email)
    assert "Confidential draft" in _text(client.get(url))
    login(client, people["outsider"].email)
    assert client.get(url).status_code == 404


def test_members_cannot_edit_or_move_minutes(client, people):
    meeting = people["meeting"]
    login(client, people["staff"].email)
    _save(client, meeting.id, "Staff text", 0)
    _transition(client, meeting.id, "circulate")
    login(client, people["amina"].email)
    assert client.get(f"/consultations/meetings/{meeting.id}/minutes/edit").status_code == 403
    assert _save(client, meeting.id, "Member rewrite", 2).status_code == 403
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/minutes/publish", data={"version": "2"}
    )
    assert resp.status_code == 403
    minutes = db.session.scalar(select(Minutes))
    db.session.refresh(minutes)
    assert (minutes.body, minutes.status) == ("Staff text", "circulated")
    assert "Edit minutes" not in _text(client.get(f"/consultations/meetings/{meeting.id}/minutes"))


def test_secretariat_member_may_edit_but_only_staff_publish(client, people):
    meeting = people["meeting"]
    login(client, people["secretary"].email)
    assert _save(client, meeting.id, "Secretariat draft", 0).status_code == 302
    _transition(client, meeting.id, "circulate")
    _transition(client, meeting.id, "approve")
    minutes = db.session.scalar(select(Minutes))
    db.session.refresh(minutes)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/minutes/publish",
        data={"version": str(minutes.version)},
    )
    assert resp.status_code == 403
    db.session.refresh(minutes)
    assert minutes.status == "approved"


def test_published_minutes_of_a_public_group_are_public(client, people):
    group = make_group("Open Forum", is_public=True)
    meeting = make_meeting(group, title="Open consultation", starts_in=timedelta(days=-3))
    db.session.commit()
    login(client, people["staff"].email)
    _save(client, meeting.id, "Public record of the **open** consultation", 0)
    url = f"/consultations/meetings/{meeting.id}/minutes"
    client.post("/account/logout")
    resp = client.get(url)
    assert resp.status_code == 404
    assert "Public record" not in _text(resp)
    assert "not been published yet" in _text(resp)

    login(client, people["staff"].email)
    for action in ("circulate", "approve", "publish"):
        _transition(client, meeting.id, action)
    client.post("/account/logout")
    resp = client.get(url)
    assert resp.status_code == 200
    assert "Public record of the <strong>open</strong> consultation" in _text(resp)
    # The meeting page's record section links to them for anonymous visitors too.
    page = _text(client.get(f"/consultations/meetings/{meeting.id}"))
    assert "Read the minutes" in page and "Record attendance" not in page
