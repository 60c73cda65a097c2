"""Who may see and do what in stakeholder consultations.

Rules (issue 4):
- Staff see and manage everything.
- A public group, and its scheduled/held/cancelled meetings, are visible to everyone; its draft
  meetings only to staff.
- A private group and its meetings are visible only to its current members and staff (drafts
  still staff-only).
- An RSVP acts only on the viewer's own invitation, and only until the meeting ends.
- Members (current, not observers-only restriction) may propose agenda items until the cut-off.

Every read path goes through these functions or the SQL filters below, so the rules are written
once. Views, templates and services ask for them by name through the guard
(``@require("manage_meetings")``, ``ensure("view_meeting", meeting)``,
``{% if can("manage_meetings") %}``); "staff" is ``portal.accounts.permissions.is_staff``, which
counts active accounts only.
"""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select, true

from portal.accounts.permissions import is_staff as _is_staff
from portal.consultations.models import (
    AdvisoryGroup,
    AgendaItem,
    AgendaItemStatus,
    GroupMember,
    Invitation,
    Meeting,
    MeetingStatus,
)
from portal.core.guard import permission
from portal.core.models import as_utc, utcnow
from portal.extensions import db


def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def current_membership(user, group_id: int) -> GroupMember | None:
    """The viewer's active membership of a group (former members, with ``left_on``, excluded)."""
    if not _authenticated(user):
        return None
    return db.session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group_id,
            GroupMember.user_id == user.id,
            GroupMember.left_on.is_(None),
        )
    )


def is_group_member(user, group: AdvisoryGroup) -> bool:
    return current_membership(user, group.id) is not None


@permission("manage_advisory_groups")
def can_manage_groups(user) -> bool:
    return _is_staff(user)


@permission("manage_meetings")
def can_manage_meetings(user) -> bool:
    return _is_staff(user)


@permission("view_advisory_group")
def can_view_group(user, group: AdvisoryGroup) -> bool:
    if _is_staff(user):
        return True
    if group.archived_at is not None:
        return False
    return bool(group.is_public) or is_group_member(user, group)


def can_view_group_members(user, group: AdvisoryGroup) -> bool:
    """The member list of a private group is as private as the group itself."""
    return can_view_group(user, group)


@permission("view_meeting")
def can_view_meeting(user, meeting: Meeting) -> bool:
    if _is_staff(user):
        return True
    if meeting.status == MeetingStatus.DRAFT.value:
        return False
    return can_view_group(user, meeting.group)


@permission("view_meeting_invitations")
def can_view_invitations(user, meeting: Meeting) -> bool:
    """Who was invited and how they answered: staff and the group's members (never the public)."""
    if _is_staff(user):
        return True
    return can_view_meeting(user, meeting) and is_group_member(user, meeting.group)


def meeting_has_ended(meeting: Meeting) -> bool:
    return as_utc(meeting.ends_at) <= utcnow()


@permission("rsvp")
def can_rsvp(user, invitation: Invitation) -> bool:
    """Only the invitee, only before the meeting ends, only while it is scheduled."""
    if not _authenticated(user) or invitation.user_id != user.id:
        return False
    meeting = invitation.meeting
    if meeting.status not in (MeetingStatus.SCHEDULED.value,):
        return False
    return not meeting_has_ended(meeting)


@permission("propose_agenda_item")
def can_propose_agenda_item(user, meeting: Meeting) -> bool:
    if not _authenticated(user) or not can_view_meeting(user, meeting):
        return False
    if meeting.status not in (MeetingStatus.SCHEDULED.value, MeetingStatus.DRAFT.value):
        return False
    if not is_group_member(user, meeting.group):
        return False
    cutoff = as_utc(meeting.agenda_cutoff_at) or as_utc(meeting.starts_at)
    return utcnow() < cutoff


def can_view_agenda_item(user, item: AgendaItem) -> bool:
    """Accepted items are part of the meeting; a proposal (and its files) only for staff and
    the member who proposed it."""
    if not can_view_meeting(user, item.meeting):
        return False
    if item.status == AgendaItemStatus.ACCEPTED.value or can_manage_meetings(user):
        return True
    return _authenticated(user) and item.proposed_by_id == user.id


@permission("attach_agenda_document")
def can_attach_to_item(user, item: AgendaItem) -> bool:
    """Staff, or the member who proposed the item while proposals are still open."""
    if can_manage_meetings(user):
        return True
    return (
        _authenticated(user)
        and item.proposed_by_id == user.id
        and item.status == AgendaItemStatus.PROPOSED.value
        and can_propose_agenda_item(user, item.meeting)
    )


# --------------------------------------------------------------------------- SQL filters


def visible_groups_filter(user):
    """WHERE clause on AdvisoryGroup for the groups ``user`` may see."""
    if _is_staff(user):
        return true()
    public = and_(AdvisoryGroup.is_public.is_(True), AdvisoryGroup.archived_at.is_(None))
    if not _authenticated(user):
        return public
    member_of = select(GroupMember.group_id).where(
        GroupMember.user_id == user.id, GroupMember.left_on.is_(None)
    )
    return or_(public, and_(AdvisoryGroup.archived_at.is_(None), AdvisoryGroup.id.in_(member_of)))


def visible_meetings_filter(user):
    """WHERE clause on Meeting (joined to AdvisoryGroup by the caller is NOT needed)."""
    if _is_staff(user):
        return true()
    visible_group_ids = select(AdvisoryGroup.id).where(visible_groups_filter(user))
    return and_(
        Meeting.status != MeetingStatus.DRAFT.value,
        Meeting.group_id.in_(visible_group_ids),
    )


def nothing():
    return false()
