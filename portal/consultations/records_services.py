"""Use cases for the record of a meeting: attendance register, minutes, outcomes.

House recipe: check permission → validate → change → flush → record audit. Nothing here
commits; the view (or CLI command) commits once. Search outbox rows are written by the flush
listeners (see search_docs.py); mail is queued in the same transaction (queue_mail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts.models import User
from portal.consultations import records_permissions as rules
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    AttendanceRecord,
    AttendanceStatus,
    GroupMember,
    Invitation,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesRevision,
    MinutesStatus,
    Outcome,
    OutcomeKind,
    OutcomeNote,
    OutcomeStatus,
)
from portal.core.audit import record_audit, snapshot
from portal.core.content_language import check_language
from portal.core.models import as_utc, utcnow
from portal.core.services import (
    FORM_ERROR,
    PermissionDenied,
    ServiceError,
    ValidationError,
    actor_id,
)
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.services import queue_mail
from portal.partners.models import Organization

MINUTES_STATUS_LABELS = {
    MinutesStatus.DRAFT.value: _l("Draft"),
    MinutesStatus.CIRCULATED.value: _l("Circulated for approval"),
    MinutesStatus.APPROVED.value: _l("Approved"),
    MinutesStatus.PUBLISHED.value: _l("Published"),
}
TRANSITION_LABELS = {
    "circulate": _l("Circulate for approval"),
    "approve": _l("Record approval"),
    "publish": _l("Publish minutes"),
    "withdraw": _l("Return to draft"),
}

MAX_MINUTES_CHARS = 200_000
MAX_NOTE_CHARS = 10_000
# Attendees may confirm their own presence from shortly before the start (people join early).
SELF_CONFIRM_OPENS_BEFORE = timedelta(minutes=30)
CLOSED_STATUSES = (OutcomeStatus.DONE.value, OutcomeStatus.DROPPED.value)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied()


# --- attendance -------------------------------------------------------------------------------


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
    _require(rules.can_keep_record(actor, meeting))
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


# --- minutes ----------------------------------------------------------------------------------


class MinutesLocked(ServiceError):
    """Published minutes are final."""


class MinutesConflict(ServiceError):
    """Someone saved the minutes after this editor opened them; nothing was written."""


def _add_revision(minutes: Minutes, actor) -> MinutesRevision:
    revision = MinutesRevision(
        minutes=minutes,
        version=minutes.version,
        body=minutes.body,
        status=minutes.status,
        created_by_id=actor_id(actor),
    )
    db.session.add(revision)
    return revision


def _flush_or_conflict() -> None:
    """A concurrent save that slipped past the version check still loses here (UPDATE … WHERE
    version = n matches no row, or the unique meeting_id refuses a second first draft)."""
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError) as err:
        raise MinutesConflict() from err


def save_minutes(
    actor, meeting: Meeting, body: str, base_version: int, language: str | None = None
) -> Minutes:
    """Save the text; refused if published or if it changed since ``base_version`` (0 = new).

    ``language``: the text's language as chosen on the form; None detects it from the text.
    Editing approved minutes withdraws the approval (it applied to the old text).
    """
    _require(rules.can_edit_minutes(actor, meeting))
    minutes = meeting.minutes
    if minutes is not None and minutes.status == MinutesStatus.PUBLISHED:
        raise MinutesLocked()
    if (minutes.version if minutes is not None else 0) != base_version:
        raise MinutesConflict()
    body = (body or "").replace("\r\n", "\n")
    if len(body) > MAX_MINUTES_CHARS:
        raise ValidationError(
            {"body": _("Minutes are limited to %(n)d characters.", n=MAX_MINUTES_CHARS)}
        )
    if meeting.status not in (MeetingStatus.SCHEDULED, MeetingStatus.HELD):
        raise ValidationError(
            {FORM_ERROR: _("Minutes can only be kept for a scheduled or held meeting.")}
        )
    errors: dict[str, str] = {}
    language = check_language(language, errors)
    if errors:
        raise ValidationError(errors)
    if minutes is None:
        minutes = Minutes(
            meeting=meeting,
            body=body,
            language=language,
            status=MinutesStatus.DRAFT.value,
            updated_by_id=actor_id(actor),
        )
        db.session.add(minutes)
        action = "create"
    else:
        if minutes.body == body:
            if language and language != minutes.language:
                minutes.language = language  # only the language: no new text version
                db.session.flush()
            return minutes  # the text did not change: no new version, no revision
        minutes.body = body
        # The chosen language, or (None) detected again from the new text when flushed.
        minutes.language = language
        minutes.updated_by_id = actor_id(actor)
        if minutes.status == MinutesStatus.APPROVED:
            minutes.status = MinutesStatus.DRAFT.value
            minutes.approved_at = None
            minutes.approved_by_id = None
        action = "update"
    _flush_or_conflict()
    _add_revision(minutes, actor)
    db.session.flush()
    record_audit(
        action,
        minutes,
        summary=f"Minutes of {meeting.title!r} saved (v{minutes.version})",
        actor_id=actor_id(actor),
    )
    return minutes


_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "circulate": ((MinutesStatus.DRAFT,), MinutesStatus.CIRCULATED),
    "approve": ((MinutesStatus.CIRCULATED,), MinutesStatus.APPROVED),
    "publish": ((MinutesStatus.APPROVED,), MinutesStatus.PUBLISHED),
    "withdraw": ((MinutesStatus.CIRCULATED, MinutesStatus.APPROVED), MinutesStatus.DRAFT),
}
TRANSITIONS = tuple(_TRANSITIONS)


def _may(action: str, actor, meeting: Meeting) -> bool:
    if action == "publish":
        return rules.can_publish_minutes(actor, meeting)
    if action == "approve":
        return rules.can_approve_minutes(actor, meeting)
    return rules.can_edit_minutes(actor, meeting)


def allowed_transitions(actor, minutes: Minutes | None, meeting: Meeting) -> list[str]:
    if minutes is None:
        return []
    return [
        action
        for action, (sources, _target) in _TRANSITIONS.items()
        if minutes.status in sources and _may(action, actor, meeting)
    ]


def change_minutes_status(actor, meeting: Meeting, action: str, base_version: int) -> Minutes:
    """circulate (mails the members) → approve → publish (locks); withdraw returns to draft."""
    if action not in _TRANSITIONS:
        raise ValidationError({FORM_ERROR: _("Unknown action.")})
    minutes = meeting.minutes
    if minutes is None:
        raise ValidationError({FORM_ERROR: _("There are no minutes yet.")})
    _require(_may(action, actor, meeting))
    if minutes.status == MinutesStatus.PUBLISHED:
        raise MinutesLocked()
    if minutes.version != base_version:
        raise MinutesConflict()
    sources, target = _TRANSITIONS[action]
    if minutes.status not in sources:
        raise ValidationError(
            {
                FORM_ERROR: _(
                    "“%(action)s” is not possible: the minutes are “%(status)s”.",
                    status=MINUTES_STATUS_LABELS.get(minutes.status, minutes.status),
                    action=TRANSITION_LABELS[action],
                )
            }
        )
    if action == "circulate" and not minutes.body.strip():
        raise ValidationError({FORM_ERROR: _("Write the minutes before circulating them.")})
    before = minutes.status
    minutes.status = str(target)
    minutes.updated_by_id = actor_id(actor)
    now = utcnow()
    if target == MinutesStatus.APPROVED:
        minutes.approved_by_id = actor_id(actor)
        minutes.approved_at = now
    elif target == MinutesStatus.PUBLISHED:
        minutes.published_at = now
    elif target == MinutesStatus.DRAFT:
        minutes.approved_by_id = None
        minutes.approved_at = None
    _flush_or_conflict()
    _add_revision(minutes, actor)
    db.session.flush()
    record_audit(
        action,
        minutes,
        summary=f"Minutes of {meeting.title!r}: {before} → {target}",
        before={"status": before},
        after={"status": str(target)},
        actor_id=actor_id(actor),
    )
    if action == "circulate":
        _mail_circulated(meeting, actor)
    elif target == MinutesStatus.PUBLISHED:
        from portal.consultations.notices import minutes_published

        minutes_published(meeting, actor)
    return minutes


def _mail_circulated(meeting: Meeting, actor) -> int:
    """Ask every current member of the group (except the sender) to read and approve."""
    link = absolute_url("consultations.minutes_view", meeting_id=meeting.id)
    members = db.session.scalars(
        select(GroupMember).where(
            GroupMember.group_id == meeting.group_id, rules.active_membership_clause()
        )
    ).all()
    sent = 0
    sender_id = actor_id(actor)
    for member in members:
        user = member.user
        if not user.active or user.id == sender_id:
            continue
        locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(locale):
            context = {
                "user": user,
                "meeting": meeting,
                "link": link,
                "lang": locale,
                "rtl": locale == "ar",
            }
            queue_mail(
                user.email,
                _("Draft minutes for approval: %(title)s", title=meeting.title),
                render_template("mail/minutes_circulated.txt", **context),
                html=render_template("mail/minutes_circulated.html", **context),
                category="minutes-circulated",
            )
        sent += 1
    return sent


# --- outcomes ---------------------------------------------------------------------------------


@dataclass
class OutcomeData:
    kind: str = OutcomeKind.ACTION.value
    title: str = ""
    description: str = ""
    engagement_area: str | None = None
    owner_id: int | None = None
    owner_organization_id: int | None = None
    due_on: date | None = None
    status: str = OutcomeStatus.OPEN.value
    note: str = ""  # optional note recorded with a status change


_OUTCOME_FIELDS = [
    "kind", "title", "description", "engagement_area", "owner_id",
    "owner_organization_id", "due_on", "status",
]  # fmt: skip


def _validate_outcome(data: OutcomeData) -> None:
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in OutcomeKind}:
        errors["kind"] = _("Choose recommendation or action item.")
    data.title = (data.title or "").strip()
    if not data.title:
        errors["title"] = _("Give the outcome a title.")
    elif len(data.title) > 500:
        errors["title"] = _("At most 500 characters.")
    if data.engagement_area and data.engagement_area not in ENGAGEMENT_AREAS:
        errors["engagement_area"] = _("Choose one of the engagement areas.")
    if data.status not in {s.value for s in OutcomeStatus}:
        errors["status"] = _("Choose a status.")
    if data.owner_id is not None:
        owner = db.session.get(User, data.owner_id)
        if owner is None or not owner.active:
            errors["owner_id"] = _("Choose an active user.")
    if (
        data.owner_organization_id is not None
        and db.session.get(Organization, data.owner_organization_id) is None
    ):
        errors["owner_organization_id"] = _("Choose an organisation.")
    if len(data.note or "") > MAX_NOTE_CHARS:
        errors["note"] = _("At most %(n)d characters.", n=MAX_NOTE_CHARS)
    if errors:
        raise ValidationError(errors)


def create_outcome(actor, meeting: Meeting, data: OutcomeData) -> Outcome:
    _require(rules.can_edit_outcome(actor))
    if meeting.status not in (MeetingStatus.SCHEDULED, MeetingStatus.HELD):
        raise ValidationError(
            {FORM_ERROR: _("Outcomes can only be added to a scheduled or held meeting.")}
        )
    _validate_outcome(data)
    outcome = Outcome(meeting=meeting)
    for name in _OUTCOME_FIELDS:
        setattr(outcome, name, getattr(data, name))
    db.session.add(outcome)
    db.session.flush()
    if data.note.strip():
        db.session.add(
            OutcomeNote(outcome=outcome, author_id=actor_id(actor), body=data.note.strip())
        )
    record_audit(
        "create",
        outcome,
        summary=f"Outcome {outcome.title!r}",
        after=snapshot(outcome, _OUTCOME_FIELDS),
        actor_id=actor_id(actor),
    )
    from portal.consultations.notices import action_assigned

    action_assigned(outcome, actor)
    return outcome


def update_outcome(actor, outcome: Outcome, data: OutcomeData) -> Outcome:
    _require(rules.can_edit_outcome(actor, outcome))
    _validate_outcome(data)
    before = snapshot(outcome, _OUTCOME_FIELDS)
    old_status = outcome.status
    for name in _OUTCOME_FIELDS:
        setattr(outcome, name, getattr(data, name))
    if old_status != data.status or data.note.strip():
        db.session.add(
            OutcomeNote(
                outcome=outcome,
                author_id=actor_id(actor),
                body=data.note.strip(),
                status_from=old_status if old_status != data.status else None,
                status_to=data.status if old_status != data.status else None,
            )
        )
    db.session.flush()
    record_audit(
        "update",
        outcome,
        summary=f"Outcome {outcome.title!r}",
        before=before,
        after=snapshot(outcome, _OUTCOME_FIELDS),
        actor_id=actor_id(actor),
    )
    if before.get("owner_id") != outcome.owner_id:
        from portal.consultations.notices import action_assigned

        action_assigned(outcome, actor)
    return outcome


def add_progress_note(actor, outcome: Outcome, body: str, new_status: str | None) -> OutcomeNote:
    """Owners (and staff) report progress; a status change is recorded on the note."""
    _require(rules.can_update_progress(actor, outcome))
    body = (body or "").strip()
    new_status = new_status or None
    errors: dict[str, str] = {}
    if new_status is not None and new_status not in {s.value for s in OutcomeStatus}:
        errors["status"] = _("Choose a status.")
    if len(body) > MAX_NOTE_CHARS:
        errors["body"] = _("At most %(n)d characters.", n=MAX_NOTE_CHARS)
    if not body and (new_status is None or new_status == outcome.status):
        errors["body"] = _("Write a note or change the status.")
    if errors:
        raise ValidationError(errors)
    changed = new_status is not None and new_status != outcome.status
    note = OutcomeNote(
        outcome=outcome,
        author_id=actor_id(actor),
        body=body,
        status_from=outcome.status if changed else None,
        status_to=new_status if changed else None,
    )
    if changed:
        outcome.status = new_status
    db.session.add(note)
    db.session.flush()
    record_audit(
        "progress",
        outcome,
        summary=f"Progress note on {outcome.title!r}"
        + (f": {note.status_from} → {note.status_to}" if changed else ""),
        actor_id=actor_id(actor),
    )
    return note


def is_overdue(outcome: Outcome, today: date | None = None) -> bool:
    today = today or utcnow().date()
    return (
        outcome.due_on is not None
        and outcome.due_on < today
        and outcome.status not in CLOSED_STATUSES
    )
