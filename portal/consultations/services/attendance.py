"""The attendance register of a meeting: kept by the secretariat, confirmed by attendees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from portal.accounts.models import User
from portal.consultations import records_permissions as rules
from portal.consultations.models import (
    AttendanceRecord,
    AttendanceStatus,
    GroupMember,
    Invitation,
    Meeting,
    MeetingStatus,
)
from portal.consultations.services.base import refuse_unless
from portal.core.audit import record_audit
from portal.core.models import as_utc, utcnow
from portal.core.services import (
    FORM_ERROR,
    PermissionDenied,
    ValidationError,
    actor_id,
)
from portal.extensions import db
from portal.partners.models import Organization

# Attendees may confirm their own presence from shortly before the start (people join early).
SELF_CONFIRM_OPENS_BEFORE = timedelta(minutes=30)


@dataclass
class RosterRow:
    """One person on the register: an invitee, a current member, or someone already recorded."""

    user: User
    invitation: Invitation | None = None
    member: GroupMember | None = None
    record: AttendanceRecord | None = None

    @property
    def status(self) -> str:
        return self.record.status if self.record else ""

    @property
    def organization(self) -> Organization | None:
        if self.member is not None and self.member.organization is not None:
            return self.member.organization
        return self.user.organization


def attendance_roster(meeting: Meeting) -> list[RosterRow]:
    """Invitees, then group members who were not invited, then anyone else already recorded."""
    rows: dict[int, RosterRow] = {}
    members = {
        m.user_id: m
        for m in db.session.scalars(
            select(GroupMember).where(
                GroupMember.group_id == meeting.group_id, rules.active_membership_clause()
            )
        )
    }
    for inv in meeting.invitations:
        rows[inv.user_id] = RosterRow(inv.user, invitation=inv, member=members.get(inv.user_id))
    for user_id, member in members.items():
        rows.setdefault(user_id, RosterRow(member.user, member=member))
    for record in meeting.attendance:
        row = rows.setdefault(record.user_id, RosterRow(record.user))
        row.record = record
    return sorted(
        rows.values(),
        key=lambda r: (r.invitation is None, (r.user.name or "").casefold(), r.user.id),
    )


def record_attendance(actor, meeting: Meeting, statuses: dict[int, str]) -> int:
    """Set the register in one go; ``""`` clears a row. Returns how many rows changed."""
    refuse_unless(rules.can_keep_record(actor, meeting))
    if not rules.can_record_attendance(actor, meeting):
        raise ValidationError(
            {FORM_ERROR: _("Attendance can only be recorded for a scheduled or held meeting.")}
        )
    roster = {row.user.id: row for row in attendance_roster(meeting)}
    allowed = {s.value for s in AttendanceStatus}
    errors: dict[str, str] = {}
    for user_id, status in statuses.items():
        if user_id not in roster:
            errors[FORM_ERROR] = _("Only invitees and members of the group can be on the register.")
        elif status and status not in allowed:
            errors[f"status-{user_id}"] = _("Choose present, absent or excused.")
    if errors:
        raise ValidationError(errors)
    changed = 0
    now = utcnow()
    for user_id, status in statuses.items():
        row = roster[user_id]
        record = row.record
        if not status:
            if record is not None:
                db.session.delete(record)
                changed += 1
            continue
        if record is None:
            record = AttendanceRecord(meeting=meeting, user_id=user_id, status=status)
            db.session.add(record)
        elif record.status == status:
            continue
        record.status = status
        record.self_confirmed = False  # the secretariat's word is now the record
        record.recorded_by_id = actor_id(actor)
        record.recorded_at = now
        changed += 1
    db.session.flush()
    if changed:
        record_audit(
            "attendance",
            meeting,
            summary=f"Attendance register updated ({changed} change(s))",
            actor_id=actor_id(actor),
        )
    return changed


def can_self_confirm(user, meeting: Meeting) -> bool:
    """Invitees and members, once the meeting is (about to be) under way, not if cancelled."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if meeting.status not in (MeetingStatus.SCHEDULED, MeetingStatus.HELD):
        return False
    if utcnow() < as_utc(meeting.starts_at) - SELF_CONFIRM_OPENS_BEFORE:
        return False
    invited = any(inv.user_id == user.id for inv in meeting.invitations)
    return invited or rules.is_member(user, meeting.group_id)


def confirm_own_attendance(actor, meeting: Meeting) -> AttendanceRecord:
    if not can_self_confirm(actor, meeting):
        if (
            meeting.status in (MeetingStatus.SCHEDULED, MeetingStatus.HELD)
            and utcnow() < as_utc(meeting.starts_at) - SELF_CONFIRM_OPENS_BEFORE
        ):
            raise ValidationError(
                {FORM_ERROR: _("You can confirm your presence once the meeting has started.")}
            )
        raise PermissionDenied()
    record = db.session.scalar(
        select(AttendanceRecord).where(
            AttendanceRecord.meeting_id == meeting.id, AttendanceRecord.user_id == actor.id
        )
    )
    if record is None:
        record = AttendanceRecord(
            meeting=meeting, user_id=actor.id, status=AttendanceStatus.PRESENT.value
        )
        db.session.add(record)
    record.status = AttendanceStatus.PRESENT.value
    record.self_confirmed = True
    record.recorded_by_id = actor.id
    record.recorded_at = utcnow()
    db.session.flush()
    record_audit("confirm", record, summary="Confirmed own presence", actor_id=actor.id)
    return record


@dataclass
class AttendanceSummary:
    """The "Present / Apologies / Absent" block of the minutes: display names per status."""

    present: list[str] = field(default_factory=list)
    excused: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return bool(self.present or self.excused or self.absent)


def _display_name(user: User, org: Organization | None) -> str:
    return f"{user.name} ({org.name})" if org is not None else user.name


def attendance_summary(meeting: Meeting) -> AttendanceSummary:
    summary = AttendanceSummary()
    for row in attendance_roster(meeting):
        if row.record is None:
            continue
        getattr(summary, row.record.status).append(_display_name(row.user, row.organization))
    return summary
