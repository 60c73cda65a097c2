"""Consultation search documents: published minutes, agenda items, and the recommendations and
action items of meetings whose minutes are published.

- ``minutes:<id>``  — published minutes only;
- ``agenda:<id>``   — accepted agenda items of scheduled or held meetings;
- ``outcome:<id>``  — outcomes of meetings with published minutes.
Principals follow the meeting (``records_permissions.meeting_principals``): ``public`` for a
public group's live meetings, else ``staff`` + ``group:<id>``.

``register_consultation_search`` is called from ``create_app`` (next to ``init_search``): it
registers the loaders and the change tracker that turns flushes of our models into outbox rows.
A loader returning nothing for a pk means "remove it from the index" — so unpublishing, a
private group or a cancelled meeting all take documents out through the same path.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, object_session, selectinload

from portal.consultations.minutes_render import markdown_blocks
from portal.consultations.models import (
    AdvisoryGroup,
    AgendaItem,
    AgendaItemStatus,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesStatus,
    Outcome,
)
from portal.consultations.records_permissions import meeting_principals
from portal.search.base import SearchDoc
from portal.search.documents import DocLoader, _url, register_kind
from portal.search.outbox import register_change_tracker

LIVE = (MeetingStatus.SCHEDULED.value, MeetingStatus.HELD.value)


def _year(meeting: Meeting) -> int | None:
    return meeting.starts_at.year if meeting.starts_at else None


# --- minutes ----------------------------------------------------------------------------------


def _published_minutes():
    return and_(Minutes.status == MinutesStatus.PUBLISHED.value, Meeting.status.in_(LIVE))


def _load_minutes(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    rows = session.scalars(
        select(Minutes)
        .join(Meeting, Meeting.id == Minutes.meeting_id)
        .where(Minutes.id.in_(pks), _published_minutes())
        .options(selectinload(Minutes.meeting).selectinload(Meeting.group))
    ).all()
    docs: dict[int, SearchDoc] = {}
    for minutes in rows:
        meeting = minutes.meeting
        text = "\n".join(block.text for block in markdown_blocks(minutes.body))
        docs[minutes.id] = SearchDoc(
            id=f"minutes:{minutes.id}",
            kind="minutes",
            title=meeting.title,
            body="\n".join(part for part in (meeting.group.name, text) if part),
            url=_url(
                "consultations.minutes_view",
                f"/consultations/meetings/{meeting.id}/minutes",
                meeting_id=meeting.id,
            ),
            principals=meeting_principals(meeting),
            status=minutes.status,
            year=_year(meeting),
            updated_at=minutes.updated_at,
            sort_date=meeting.starts_at,
        )
    return docs


def _minutes_pks(session: Session) -> Iterable[int]:
    return session.scalars(
        select(Minutes.id)
        .join(Meeting, Meeting.id == Minutes.meeting_id)
        .where(_published_minutes())
        .order_by(Minutes.id)
    ).all()


# --- agenda items -----------------------------------------------------------------------------


def _listed_agenda():
    return and_(AgendaItem.status == AgendaItemStatus.ACCEPTED.value, Meeting.status.in_(LIVE))


def _load_agenda(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    rows = session.scalars(
        select(AgendaItem)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(AgendaItem.id.in_(pks), _listed_agenda())
        .options(selectinload(AgendaItem.meeting).selectinload(Meeting.group))
    ).all()
    docs: dict[int, SearchDoc] = {}
    for item in rows:
        meeting = item.meeting
        body = [item.description or "", item.presenter or "", meeting.title, meeting.group.name]
        docs[item.id] = SearchDoc(
            id=f"agenda:{item.id}",
            kind="agenda",
            title=item.title,
            body="\n".join(part for part in body if part),
            url=_url(
                "consultations.meeting",
                f"/consultations/meetings/{meeting.id}",
                meeting_id=meeting.id,
            ),
            principals=meeting_principals(meeting),
            year=_year(meeting),
            updated_at=meeting.updated_at,
            sort_date=meeting.starts_at,
        )
    return docs


def _agenda_pks(session: Session) -> Iterable[int]:
    return session.scalars(
        select(AgendaItem.id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(_listed_agenda())
        .order_by(AgendaItem.id)
    ).all()


# --- outcomes ---------------------------------------------------------------------------------


def _published_outcome():
    published = select(Minutes.meeting_id).where(Minutes.status == MinutesStatus.PUBLISHED.value)
    return and_(Outcome.meeting_id.in_(published), Meeting.status.in_(LIVE))


def _load_outcomes(session: Session, pks: list[int]) -> dict[int, SearchDoc]:
    rows = session.scalars(
        select(Outcome)
        .join(Meeting, Meeting.id == Outcome.meeting_id)
        .where(Outcome.id.in_(pks), _published_outcome())
        .options(
            selectinload(Outcome.meeting).selectinload(Meeting.group),
            selectinload(Outcome.owner),
            selectinload(Outcome.owner_organization),
        )
    ).all()
    docs: dict[int, SearchDoc] = {}
    for outcome in rows:
        meeting = outcome.meeting
        body = [
            outcome.description or "",
            outcome.owner_organization.name if outcome.owner_organization else "",
            meeting.title,
            meeting.group.name,
        ]
        docs[outcome.id] = SearchDoc(
            id=f"outcome:{outcome.id}",
            kind="outcome",
            title=outcome.title,
            body="\n".join(part for part in body if part),
            url=_url(
                "consultations.outcome_show",
                f"/consultations/outcomes/{outcome.id}",
                outcome_id=outcome.id,
            ),
            principals=meeting_principals(meeting),
            status=outcome.status,
            year=_year(meeting),
            updated_at=outcome.updated_at,
            sort_date=meeting.starts_at,
        )
    return docs


def _outcome_pks(session: Session) -> Iterable[int]:
    return session.scalars(
        select(Outcome.id)
        .join(Meeting, Meeting.id == Outcome.meeting_id)
        .where(_published_outcome())
        .order_by(Outcome.id)
    ).all()


# --- change tracking --------------------------------------------------------------------------


def _meeting_doc_ids(session: Session, meeting_ids: list[int]) -> set[str]:
    """Every document hanging off these meetings (their visibility follows the meeting)."""
    if not meeting_ids:
        return set()
    conn = session.connection()
    ids = {
        f"agenda:{pk}"
        for (pk,) in conn.execute(
            select(AgendaItem.id).where(AgendaItem.meeting_id.in_(meeting_ids))
        )
    }
    ids |= {
        f"minutes:{pk}"
        for (pk,) in conn.execute(select(Minutes.id).where(Minutes.meeting_id.in_(meeting_ids)))
    }
    ids |= {
        f"outcome:{pk}"
        for (pk,) in conn.execute(select(Outcome.id).where(Outcome.meeting_id.in_(meeting_ids)))
    }
    return ids


def track_consultation_changes(obj: object, state: str) -> Iterable[str]:
    """Document ids an insert/update/delete of one of our objects affects."""
    if isinstance(obj, Minutes):
        ids = {f"minutes:{obj.id}"}
        session = object_session(obj)
        if session is not None and obj.meeting_id is not None:
            # Outcomes are searchable only once their meeting's minutes are published.
            conn = session.connection()
            ids |= {
                f"outcome:{pk}"
                for (pk,) in conn.execute(
                    select(Outcome.id).where(Outcome.meeting_id == obj.meeting_id)
                )
            }
        return ids
    if isinstance(obj, Outcome):
        return {f"outcome:{obj.id}"}
    if isinstance(obj, AgendaItem):
        return {f"agenda:{obj.id}"}
    if isinstance(obj, Meeting) and state != "new":
        session = object_session(obj)
        return _meeting_doc_ids(session, [obj.id]) if session is not None else set()
    if isinstance(obj, AdvisoryGroup) and state == "dirty":
        session = object_session(obj)
        if session is None:
            return set()
        meeting_ids = list(
            session.connection().scalars(select(Meeting.id).where(Meeting.group_id == obj.id))
        )
        return _meeting_doc_ids(session, meeting_ids)
    return ()


def register_consultation_search() -> None:
    """Called once from create_app; registering twice is harmless."""
    register_kind("minutes", DocLoader(load=_load_minutes, all_pks=_minutes_pks))
    register_kind("agenda", DocLoader(load=_load_agenda, all_pks=_agenda_pks))
    register_kind("outcome", DocLoader(load=_load_outcomes, all_pks=_outcome_pks))
    register_change_tracker(track_consultation_changes)
