"""Who may see and do what: private groups, drafts, invitations, managing meetings, RSVPs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.consultations.models import Invitation, Meeting
from portal.extensions import db
from tests.conftest import login
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_org, make_user


@pytest.fixture
def world():
    """A private group with one member (of org A), an outsider partner (of org B), staff."""
    org_a, org_b = make_org("Org A"), make_org("Org B")
    group = make_group("Private Advisory Group", is_public=False)
    member = make_user(email="member@a.example", name="Member A", organization=org_a)
    add_member(group, member, organization_id=org_a.id)
    outsider = make_user(email="outsider@b.example", name="Outsider B", organization=org_b)
    staff = make_user(Role.STAFF, email="staff@example.org")
    meeting = make_meeting(group, title="Closed-door consultation")
    draft = make_meeting(group, title="Unannounced draft", status="draft")
    invitation = invite_user(meeting, member)
    db.session.commit()
    return {
        "group": group,
        "member": member,
        "outsider": outsider,
        "staff": staff,
        "meeting": meeting,
        "draft": draft,
        "invitation": invitation,
    }


def _as(app, user):
    c = app.test_client()
    if user is not None:
        login(c, user.email)
    return c


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_outsiders_cannot_see_a_private_group_or_its_meetings(app, world, who):
    c = _as(app, None if who == "anonymous" else world["outsider"])
    group, meeting = world["group"], world["meeting"]
    assert c.get(f"/consultations/groups/{group.id}").status_code == 404
    assert c.get(f"/consultations/meetings/{meeting.id}").status_code == 404
    assert c.get(f"/consultations/meetings/{meeting.id}.ics").status_code == 404
    assert c.get(f"/consultations/meetings/{world['draft'].id}").status_code == 404
    page = c.get("/consultations/").get_data(as_text=True)
    assert "Private Advisory Group" not in page and "Closed-door consultation" not in page


def test_members_see_the_private_meeting_and_invitations_but_not_drafts(app, world):
    c = _as(app, world["member"])
    page = c.get(f"/consultations/meetings/{world['meeting'].id}").get_data(as_text=True)
    assert "Closed-door consultation" in page and "Invitations" in page and "Member A" in page
    assert c.get(f"/consultations/meetings/{world['draft'].id}").status_code == 404
    assert "Unannounced draft" not in c.get(f"/consultations/groups/{world['group'].id}").get_data(
        as_text=True
    )


def test_public_group_shows_meetings_but_not_invitations_or_drafts(app):
    group = make_group("Public Group")
    member = make_user(email="member@example.org", name="Visible Member")
    add_member(group, member)
    meeting = make_meeting(group, title="Open consultation")
    draft = make_meeting(group, title="Public draft", status="draft")
    invite_user(meeting, member, response="accepted", comment="Private remark")
    db.session.commit()
    c = _as(app, None)
    page = c.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "Open consultation" in page
    assert "Private remark" not in page and 'id="invitations"' not in page
    assert c.get(f"/consultations/meetings/{draft.id}").status_code == 404


def test_staff_see_drafts_and_private_groups(app, world):
    c = _as(app, world["staff"])
    assert c.get(f"/consultations/meetings/{world['draft'].id}").status_code == 200
    assert c.get(f"/consultations/groups/{world['group'].id}").status_code == 200


def test_members_cannot_manage_meetings_or_groups(app, world):
    c = _as(app, world["member"])
    meeting, group = world["meeting"], world["group"]
    assert c.get(f"/consultations/meetings/{meeting.id}/invite").status_code == 403
    assert (
        c.post(f"/consultations/meetings/{meeting.id}/invite", data={"scope": "group"}).status_code
        == 403
    )
    assert (
        c.post(f"/consultations/meetings/{meeting.id}/agenda", data={"item-title": "X"}).status_code
        == 403
    )
    assert c.get(f"/consultations/groups/{group.id}/edit").status_code == 403
    assert c.post(f"/consultations/groups/{group.id}/archive").status_code == 403
    assert (
        c.post(
            f"/consultations/groups/{group.id}/members",
            data={"email": "outsider@b.example", "role": "chair"},
        ).status_code
        == 403
    )
    db.session.expire_all()
    assert db.session.scalar(select(Meeting).where(Meeting.id == meeting.id)).title == meeting.title
    assert len(db.session.scalars(select(Invitation)).all()) == 1


def test_partner_of_another_org_cannot_rsvp_for_someone_else(app, world):
    invitation = world["invitation"]
    c = _as(app, world["outsider"])
    resp = c.post(
        f"/consultations/invitations/{invitation.id}/rsvp",
        data={"response": "declined", "comment": "Not coming (forged)"},
    )
    assert resp.status_code in (403, 404)
    # Even a member of the same group cannot answer for another member.
    colleague = make_user(email="colleague@a.example", organization=world["member"].organization)
    add_member(world["group"], colleague)
    db.session.commit()
    resp = _as(app, colleague).post(
        f"/consultations/invitations/{invitation.id}/rsvp", data={"response": "declined"}
    )
    assert resp.status_code in (403, 404)
    db.session.expire_all()
    unchanged = db.session.get(Invitation, invitation.id)
    assert unchanged.response == "pending" and unchanged.comment is None


def test_removed_member_loses_access_to_the_private_group(app, world):
    staff = _as(app, world["staff"])
    member_row = world["group"].members[0]
    staff.post(f"/consultations/groups/{world['group'].id}/members/{member_row.id}/remove")
    c = _as(app, world["member"])
    assert c.get(f"/consultations/meetings/{world['meeting'].id}").status_code == 404
