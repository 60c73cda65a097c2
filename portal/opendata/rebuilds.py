"""Which changes ask for a rebuild of the public open-data files, and whether a previous
file may be sent meanwhile (docs/open-data.md, "After a change"; the building itself is in
``prebuild.py``). Imported by the views, so its listeners are installed with the app.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import DateTime, Integer, String, event, inspect, literal, or_, select
from sqlalchemy.orm import Session

from portal.agreements import catalogue_index
from portal.agreements.models import Agreement, AgreementDocument
from portal.core.models import as_utc, table_present, utcnow
from portal.extensions import db
from portal.opendata.models import OpenDataBuild
from portal.partners.models import Organization

BUILDS = OpenDataBuild.__table__
# Set by ``build_public_files`` on its request (what the view must do), and by the view (what
# it did: "hit", "built", "previous", "missing"); a WSGI environ is one request's own.
ENVIRON_MODE = "portal.open_data.prebuild"
ENVIRON_STATE = "portal.open_data.cache"


def enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("OPEN_DATA_PREBUILD"))


def has_builds_table(connection) -> bool:
    """Code deployed before the ``open_data_builds`` migration must not break a save."""
    return table_present(connection, BUILDS.name)


def request_rebuild(connection, *, delay: float | None = None, withdraws: bool = False) -> None:
    """Queue a rebuild of the public files, due in ``delay`` seconds (default
    ``OPEN_DATA_PREBUILD_DELAY``), in ``connection``'s transaction — unless one is waiting
    already (not claimed, not dead), which this change then joins. One statement; with
    ``withdraws`` (something left the public catalogue) a second marks every live rebuild so
    no previous file is sent until they are done."""
    if delay is None:
        delay = float(current_app.config.get("OPEN_DATA_PREBUILD_DELAY", 60))
    now = utcnow()
    stamp = DateTime(timezone=True)
    waiting = (
        select(BUILDS.c.id)
        .where(
            BUILDS.c.dead_at.is_(None),
            or_(BUILDS.c.claimed_until.is_(None), BUILDS.c.claimed_until <= now),
        )
        .exists()
    )
    connection.execute(
        BUILDS.insert().from_select(
            ["scope", "created_at", "attempts", "next_attempt_at"],
            select(
                literal("public", String()),
                literal(now, stamp),
                literal(0, Integer()),
                literal(now + timedelta(seconds=delay), stamp),
            ).where(~waiting),
        )
    )
    if withdraws:
        connection.execute(BUILDS.update().where(BUILDS.c.dead_at.is_(None)).values(withdraws=True))


def _on_catalogue_change(connection) -> None:
    if enabled() and has_builds_table(connection):
        request_rebuild(connection)


catalogue_index.CHANGE_LISTENERS.append(_on_catalogue_change)


# Attributes whose change may take a record out of the public files.
_WITHDRAWING = {
    Agreement: ("visibility", "archived_at"),
    Organization: ("is_public", "archived_at"),
}


@event.listens_for(Session, "after_flush")
def _after_flush(session, flush_context):
    """A document attached or removed changes the IATI activity file, not the token; a record
    deleted, or its visibility or archiving changed, may leave the public files — then no
    previous file may be sent (its token-moving rebuild was queued by the catalogue hook)."""
    if not enabled():
        return
    documents = withdrawn = False
    for obj in (*session.new, *session.deleted):
        documents = documents or isinstance(obj, AgreementDocument)
    for obj in session.deleted:
        withdrawn = withdrawn or isinstance(obj, (Agreement, Organization))
    for obj in session.dirty:
        names = _WITHDRAWING.get(type(obj), ())
        if names and not withdrawn:
            state = inspect(obj)
            withdrawn = any(state.attrs[name].history.has_changes() for name in names)
    if (documents or withdrawn) and has_builds_table(session.connection()):
        request_rebuild(session.connection(), withdraws=withdrawn)


@event.listens_for(Session, "do_orm_execute")
def _bulk_change(orm_execute_state):
    """An UPDATE or DELETE statement on agreements or organisations may withdraw anything."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete) or not enabled():
        return
    table = getattr(orm_execute_state.statement, "table", None)
    if getattr(table, "name", None) in ("agreements", "organizations"):
        connection = orm_execute_state.session.connection()
        if has_builds_table(connection):
            request_rebuild(connection, withdraws=True)


def rebuilding() -> bool:
    """Whether a rebuild is waiting or running (not dead, asked for less than
    ``OPEN_DATA_STALE_MAX_SECONDS`` ago): then a public file may be sent as its previous copy.
    One read, made only when the current copy is missing and a previous one exists."""
    if not enabled():
        return False
    connection = db.session.connection()
    if not has_builds_table(connection):
        return False
    oldest = utcnow() - timedelta(
        seconds=float(current_app.config.get("OPEN_DATA_STALE_MAX_SECONDS", 900))
    )
    live = connection.execute(
        select(BUILDS.c.created_at, BUILDS.c.withdraws).where(BUILDS.c.dead_at.is_(None))
    ).all()
    if any(withdraws for _created, withdraws in live):
        return False
    return any(as_utc(created) >= oldest for created, _withdraws in live)
