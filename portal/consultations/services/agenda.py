"""The agenda of a meeting: items staff add, proposals members send before the cut-off and
staff accept or decline, their order, and the documents attached to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.agreements import documents
from portal.consultations.models import AgendaDocument, AgendaItem, AgendaItemStatus, Meeting
from portal.consultations.permissions import (
    can_attach_to_item,
    can_manage_meetings,
    can_propose_agenda_item,
    can_view_meeting,
    is_group_member,
)
from portal.consultations.services.base import refuse_unless
from portal.core.audit import record_audit
from portal.core.services import PermissionDenied, ValidationError, actor_id
from portal.extensions import db


@dataclass
class AgendaItemData:
    title: str
    description: str = ""
    presenter: str | None = None
    duration_minutes: int | None = None


def _validate_item(data: AgendaItemData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (data.title or "").strip():
        errors["title"] = _("Give the item a title.")
    elif len(data.title.strip()) > 300:
        errors["title"] = _("At most %(n)d characters.", n=300)
    if data.presenter and len(data.presenter.strip()) > 200:
        errors["presenter"] = _("At most %(n)d characters.", n=200)
    if data.duration_minutes is not None and not (1 <= data.duration_minutes <= 24 * 60):
        errors["duration_minutes"] = _("Between 1 and 1440 minutes.")
    return errors


def _next_position(meeting: Meeting) -> int:
    top = db.session.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id)
    )
    return (top or 0) + 1


def _new_item(meeting: Meeting, data: AgendaItemData, status: str, proposer) -> AgendaItem:
    item = AgendaItem(
        meeting=meeting,
        position=_next_position(meeting),
        title=data.title.strip(),
        description=(data.description or "").strip(),
        presenter=(data.presenter or "").strip() or None,
        duration_minutes=data.duration_minutes,
        status=status,
        proposed_by_id=actor_id(proposer),
    )
    db.session.add(item)
    db.session.flush()
    return item


def add_agenda_item(actor, meeting: Meeting, data: AgendaItemData) -> AgendaItem:
    refuse_unless(can_manage_meetings(actor), _("Only staff may edit the agenda."))
    errors = _validate_item(data)
    if errors:
        raise ValidationError(errors)
    item = _new_item(meeting, data, AgendaItemStatus.ACCEPTED.value, actor)
    record_audit("create", item, actor_id=actor_id(actor), summary=f"Agenda item {item.title}")
    return item


def propose_agenda_item(actor, meeting: Meeting, data: AgendaItemData) -> AgendaItem:
    if not can_propose_agenda_item(actor, meeting):
        if can_view_meeting(actor, meeting) and is_group_member(actor, meeting.group):
            raise ValidationError({"title": _("Agenda proposals for this meeting are closed.")})
        raise PermissionDenied(_("Only group members may propose agenda items."))
    errors = _validate_item(data)
    if errors:
        raise ValidationError(errors)
    item = _new_item(meeting, data, AgendaItemStatus.PROPOSED.value, actor)
    record_audit(
        "propose", item, actor_id=actor_id(actor), summary=f"Proposed agenda item {item.title}"
    )
    return item


def decide_proposal(actor, item: AgendaItem, accept: bool, note: str = "") -> AgendaItem:
    refuse_unless(can_manage_meetings(actor), _("Only staff may accept or decline proposals."))
    note = (note or "").strip()
    if not accept and not note:
        raise ValidationError(
            {"note": _("Say why the proposal is declined; the member will see it.")}
        )
    item.status = AgendaItemStatus.ACCEPTED.value if accept else AgendaItemStatus.DECLINED.value
    item.decision_note = note or None
    db.session.flush()
    record_audit(
        "accept" if accept else "decline",
        item,
        actor_id=actor_id(actor),
        summary=f"{'Accepted' if accept else 'Declined'} agenda proposal {item.title}",
    )
    return item


def move_agenda_item(actor, item: AgendaItem, direction: str) -> None:
    """Swap with the neighbouring item; positions are renumbered 1..n so gaps never confuse it."""
    refuse_unless(can_manage_meetings(actor), _("Only staff may edit the agenda."))
    items = sorted(item.meeting.agenda_items, key=lambda i: (i.position, i.id))
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    for position, each in enumerate(items, start=1):
        each.position = position
    db.session.flush()


def remove_agenda_item(actor, item: AgendaItem) -> list[str]:
    """Delete an item; its files are removed from disk once the deletion is committed."""
    refuse_unless(can_manage_meetings(actor), _("Only staff may edit the agenda."))
    stored = [d.stored_name for d in item.documents]
    record_audit(
        "delete", item, actor_id=actor_id(actor), summary=f"Removed agenda item {item.title}"
    )
    db.session.delete(item)
    db.session.flush()
    for name in stored:
        documents.remove_after_commit(name)  # the same file lifecycle as agreement documents
    return stored


def attach_agenda_document(
    actor, item: AgendaItem, title: str, stream: BinaryIO, filename: str | None
) -> AgendaDocument:
    """Same checks and storage as agreement documents (portal/agreements/documents.py)."""
    refuse_unless(can_attach_to_item(actor, item), _("You may not attach documents to this item."))
    title = (title or "").strip() or documents.display_filename(filename)
    errors: dict[str, str] = {}
    if len(title) > 300:
        errors["title"] = _("At most %(n)d characters.", n=300)
    doc = documents.store_upload(
        stream,
        filename,
        errors=errors,
        build_row=lambda checked, stored_name: AgendaDocument(
            agenda_item=item,
            title=title,
            filename=checked.display_name,
            stored_name=stored_name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by_id=actor_id(actor),
        ),
    )
    record_audit(
        "upload", doc, actor_id=actor_id(actor), summary=f"Attached {doc.filename} to {item.title}"
    )
    return doc
