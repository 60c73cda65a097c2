"""Outcomes of a meeting (recommendations and action items) and their progress notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from portal.accounts.models import User
from portal.consultations import records_permissions as rules
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    Meeting,
    MeetingStatus,
    Outcome,
    OutcomeKind,
    OutcomeNote,
    OutcomeStatus,
)
from portal.consultations.services.base import refuse_unless
from portal.core.audit import record_audit, snapshot
from portal.core.models import utcnow
from portal.core.services import (
    FORM_ERROR,
    ValidationError,
    actor_id,
)
from portal.extensions import db
from portal.partners.models import Organization

MAX_NOTE_CHARS = 10_000
CLOSED_STATUSES = (OutcomeStatus.DONE.value, OutcomeStatus.DROPPED.value)


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
    refuse_unless(rules.can_edit_outcome(actor))
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
    refuse_unless(rules.can_edit_outcome(actor, outcome))
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
    refuse_unless(rules.can_update_progress(actor, outcome))
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
