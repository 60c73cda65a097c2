"""Who may see and keep the record of a meeting: attendance, minutes and outcomes.

- The attendance register and the minutes are kept by the *secretariat*: staff, or members of
  the group whose role is ``secretariat``. Ordinary members, chairs and observers read them.
- Minutes in draft are seen by their keepers only; once circulated (or approved) by the group's
  active members too; once published by whoever may see the meeting.
- Outcomes are created and edited by staff. Their owner (the user, or a user of the owning
  organisation) may add progress notes and change their status.
- A group's series tracker and report: staff and active members see every outcome; anyone else
  who may see a public group sees only *published* outcomes — those of meetings whose minutes
  are published.

Meeting visibility itself is issue 4A's rule (``portal.consultations.permissions``); it is
used here so there is one answer to "may this person see this meeting?". "Staff" is the one
definition, ``portal.accounts.permissions.is_staff`` (active accounts only). Views and templates
ask for these rules by name through the guard (``ensure("edit_minutes", meeting)``).
"""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select

from portal.accounts.models import User
from portal.accounts.permissions import STAFF_ROLES
from portal.accounts.permissions import is_staff as is_staff  # the one definition
from portal.consultations import permissions as meeting_rules
from portal.consultations.models import (
    AdvisoryGroup,
    GroupMember,
    Meeting,
    MeetingStatus,
    MemberRole,
    Minutes,
    MinutesStatus,
    Outcome,
)
from portal.core.guard import permission


def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def active_membership_clause():
    """Membership rows that count: former members (with ``left_on``) keep history, not rights."""
    return GroupMember.left_on.is_(None)


def membership(user, group_id: int) -> GroupMember | None:
    """The user's active membership of the group, if any (4A's rule, one definition)."""
    return meeting_rules.current_membership(user, group_id)


def is_member(user, group_id: int) -> bool:
    return membership(user, group_id) is not None


def is_secretariat(user, group_id: int) -> bool:
    member = membership(user, group_id)
    return member is not None and member.role == MemberRole.SECRETARIAT


def secretariat_clause(group_id: int):
    """WHERE clause on GroupMember: the group's current secretariat (who keep its record)."""
    return and_(
        GroupMember.group_id == group_id,
        GroupMember.role == MemberRole.SECRETARIAT.value,
        active_membership_clause(),
    )


def can_view_meeting(user, meeting: Meeting) -> bool:
    return bool(meeting_rules.can_view_meeting(user, meeting))


# --- attendance -------------------------------------------------------------------------------


@permission("keep_meeting_record")
def can_keep_record(user, meeting: Meeting) -> bool:
    """Keep the attendance register and edit the minutes: staff or the group's secretariat."""
    if is_staff(user):
        return True
    return is_secretariat(user, meeting.group_id)


def can_view_attendance(user, meeting: Meeting) -> bool:
    """Invitees and members see who attended; outsiders see it only in published minutes."""
    if can_keep_record(user, meeting):
        return True
    if not _authenticated(user) or not can_view_meeting(user, meeting):
        return False
    if is_member(user, meeting.group_id):
        return True
    return any(inv.user_id == user.id for inv in meeting.invitations)


def can_record_attendance(user, meeting: Meeting) -> bool:
    return can_keep_record(user, meeting) and meeting.status in (
        MeetingStatus.SCHEDULED,
        MeetingStatus.HELD,
    )


# --- minutes ----------------------------------------------------------------------------------


@permission("edit_minutes")
def can_edit_minutes(user, meeting: Meeting) -> bool:
    return can_keep_record(user, meeting)


def can_publish_minutes(user, meeting: Meeting) -> bool:
    """Publishing makes the record public and final: staff only."""
    return is_staff(user)


def can_approve_minutes(user, meeting: Meeting) -> bool:
    """Staff, or the group's secretariat or chair, record the group's approval."""
    if can_keep_record(user, meeting):
        return True
    member = membership(user, meeting.group_id)
    return member is not None and member.role == MemberRole.CHAIR


def can_view_minutes(user, minutes: Minutes | None, meeting: Meeting) -> bool:
    if minutes is None:
        return can_keep_record(user, meeting)
    if can_keep_record(user, meeting):
        return True
    if minutes.status == MinutesStatus.PUBLISHED:
        return can_view_meeting(user, meeting)
    if minutes.status in (MinutesStatus.CIRCULATED, MinutesStatus.APPROVED):
        return is_member(user, meeting.group_id)
    return False


# --- outcomes ---------------------------------------------------------------------------------


def outcome_is_published(outcome: Outcome) -> bool:
    minutes = outcome.meeting.minutes
    return minutes is not None and minutes.status == MinutesStatus.PUBLISHED


def can_see_all_outcomes(user, group: AdvisoryGroup) -> bool:
    return is_staff(user) or is_member(user, group.id)


@permission("view_series_tracker")
def can_view_tracker(user, group: AdvisoryGroup) -> bool:
    if can_see_all_outcomes(user, group):
        return True
    return group.is_public and group.archived_at is None


def can_view_outcome(user, outcome: Outcome) -> bool:
    if is_owner(user, outcome):
        return True
    group = outcome.meeting.group
    if can_see_all_outcomes(user, group):
        return True
    return outcome_is_published(outcome) and can_view_meeting(user, outcome.meeting)


@permission("edit_outcomes")
def can_edit_outcome(user, outcome: Outcome | None = None) -> bool:
    return is_staff(user)


def is_owner(user, outcome: Outcome) -> bool:
    if not _authenticated(user):
        return False
    if outcome.owner_id is not None and outcome.owner_id == user.id:
        return True
    return bool(
        outcome.owner_organization_id is not None
        and user.organization_id == outcome.owner_organization_id
    )


@permission("update_outcome_progress")
def can_update_progress(user, outcome: Outcome) -> bool:
    """Owners (and staff) add progress notes and move the status of their own items."""
    return is_staff(user) or is_owner(user, outcome)


def staff_accounts_filter():
    """WHERE clause on User: the accounts ``is_staff`` accepts (its SQL twin), e.g. the staff
    an outcome may be assigned to."""
    return and_(User.role.in_(STAFF_ROLES), User.active.is_(True))


@permission("view_consultations_dashboard")
def can_view_dashboard(user) -> bool:
    """Attendance rates per member and every group's overdue items: staff only."""
    return is_staff(user)


def visible_outcomes_filter(user, group: AdvisoryGroup):
    """WHERE clause for a group's outcomes this user may list in the tracker."""
    in_group = Outcome.meeting_id.in_(select(Meeting.id).where(Meeting.group_id == group.id))
    if can_see_all_outcomes(user, group):
        return in_group
    published = exists(
        select(Minutes.id).where(
            Minutes.meeting_id == Outcome.meeting_id, Minutes.status == MinutesStatus.PUBLISHED
        )
    )
    shown_meeting = Outcome.meeting_id.in_(
        select(Meeting.id).where(
            Meeting.group_id == group.id,
            Meeting.status.in_([MeetingStatus.SCHEDULED.value, MeetingStatus.HELD.value]),
        )
    )
    clause = and_(in_group, shown_meeting, published)
    if _authenticated(user):
        own = [Outcome.owner_id == user.id]
        if user.organization_id:
            own.append(Outcome.owner_organization_id == user.organization_id)
        clause = or_(clause, and_(in_group, or_(*own)))
    return clause


# --- search principals ------------------------------------------------------------------------


def meeting_principals(meeting: Meeting) -> list[str]:
    """Who may find this meeting's documents in search: the same rule as can_view_meeting,
    in principal strings (viewer_principals gives members ``group:<id>``)."""
    group = meeting.group
    if (
        group.is_public
        and group.archived_at is None
        and meeting.status in (MeetingStatus.SCHEDULED, MeetingStatus.HELD)
    ):
        return ["public"]
    if group.archived_at is not None:
        return ["staff"]
    return ["staff", f"group:{group.id}"]
