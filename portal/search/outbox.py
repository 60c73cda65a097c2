"""Keeping the search indexes in step with the database: a transactional outbox.

1. ``after_flush`` (same transaction as the change): for every new, changed or deleted
   searchable object, insert a ``search_outbox`` row naming the affected document. A rollback
   removes these rows together with the change, so nothing half-done is ever indexed.
2. ``after_commit``: apply this transaction's rows at once, bounded (``SEARCH_APPLY_LIMIT``
   rows, ``SEARCH_APPLY_SECONDS``), in a fresh session. Success deletes the rows; failure
   schedules a retry with exponential backoff and is logged — a user's save never fails
   because an engine is down.
3. ``flask search sync`` / ``flask search worker`` retry what is left.

Rows carry only a document id: whoever applies them loads the object's *current* state, so
rows may be applied twice, late or out of order and the index still ends up right.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask, current_app, has_app_context
from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from portal.core.models import utcnow
from portal.extensions import db
from portal.search.models import SearchOutbox

log = logging.getLogger(__name__)

_PENDING = "search_outbox_pending"  # doc ids written by the current transaction
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 3600
APPLY_BATCH = 100
# Organisation fields that appear in their agreements' documents (party names).
_ORG_FIELDS_IN_AGREEMENTS = ("name", "acronym")

_listeners_installed = False


def init_search(app: Flask) -> None:
    app.config.setdefault("SEARCH_INDEX_PREFIX", "portal")
    app.config.setdefault("SEARCH_APPLY_ON_COMMIT", True)
    app.config.setdefault("SEARCH_APPLY_LIMIT", 200)
    app.config.setdefault("SEARCH_APPLY_SECONDS", 2.0)
    global _listeners_installed
    if not _listeners_installed:
        # db.session is one scoped_session for every app: listen once.
        event.listen(db.session, "after_flush", _record_changes)
        event.listen(db.session, "after_commit", _apply_after_commit)
        event.listen(db.session, "after_soft_rollback", _forget_on_rollback)
        _listeners_installed = True


# --- 1. recording changes ---------------------------------------------------------------------


# Other domains (consultations, reviews) register how their objects map to document ids:
# tracker(obj, state) returns the ids an object's insert/update/delete affects (state is
# "new", "dirty", "deleted"), or nothing when the object is not theirs.
ChangeTracker = Callable[[object, str], Iterable[str]]
CHANGE_TRACKERS: list[ChangeTracker] = []


def register_change_tracker(tracker: ChangeTracker) -> None:
    if tracker not in CHANGE_TRACKERS:
        CHANGE_TRACKERS.append(tracker)


def affected_doc_ids(session: Session) -> set[str]:
    """Document ids touched by the objects this flush writes (state is still pre-flush)."""
    from portal.agreements.models import Agreement, AgreementParty, AgreementSdgTarget
    from portal.partners.models import Organization

    ids: set[str] = set()
    renamed_orgs: set[int] = set()
    changed = [(obj, "new") for obj in session.new]
    changed += [(obj, "dirty") for obj in session.dirty if session.is_modified(obj)]
    changed += [(obj, "deleted") for obj in session.deleted]
    for obj, state in changed:
        if isinstance(obj, Organization):
            ids.add(f"organization:{obj.id}")
            if state == "dirty" and any(
                inspect(obj).attrs[name].history.has_changes() for name in _ORG_FIELDS_IN_AGREEMENTS
            ):
                renamed_orgs.add(obj.id)
        elif isinstance(obj, Agreement):
            ids.add(f"agreement:{obj.id}")
        elif isinstance(obj, AgreementParty | AgreementSdgTarget):
            history = inspect(obj).attrs.agreement_id.history
            for agreement_id in [obj.agreement_id, *history.deleted]:
                if agreement_id is not None:
                    ids.add(f"agreement:{agreement_id}")
            if obj.agreement is not None and obj.agreement.id is not None:
                ids.add(f"agreement:{obj.agreement.id}")
        else:
            for tracker in CHANGE_TRACKERS:
                ids.update(tracker(obj, state))
    if renamed_orgs:
        rows = session.connection().execute(
            select(AgreementParty.agreement_id)
            .where(AgreementParty.organization_id.in_(renamed_orgs))
            .distinct()
        )
        ids.update(f"agreement:{agreement_id}" for (agreement_id,) in rows)
    return ids


def _record_changes(session: Session, _flush_context) -> None:
    ids = affected_doc_ids(session)
    pending: set[str] = session.info.setdefault(_PENDING, set())
    new_ids = sorted(ids - pending)
    if not new_ids:
        return
    now = utcnow()
    # Core insert on the flush's own connection: same transaction, no recursive flush.
    session.connection().execute(
        insert(SearchOutbox),
        [{"doc_id": i, "created_at": now, "attempts": 0, "next_attempt_at": now} for i in new_ids],
    )
    pending.update(new_ids)


def _forget_on_rollback(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


# --- 2. applying right after commit -----------------------------------------------------------


def _apply_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()
    if not app.config.get("SEARCH_APPLY_ON_COMMIT", True):
        return
    try:
        apply_pending(
            app,
            doc_ids=ids,
            limit=app.config["SEARCH_APPLY_LIMIT"],
            time_budget=app.config["SEARCH_APPLY_SECONDS"],
        )
    except Exception:  # never fail the request that already committed
        log.exception("Applying search outbox after commit failed; `flask search sync` will retry")


@dataclass
class ApplyReport:
    applied: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1), BACKOFF_MAX_SECONDS)
    )


def apply_pending(
    app: Flask,
    *,
    doc_ids: Iterable[str] | None = None,
    limit: int | None = None,
    time_budget: float | None = None,
    due_only: bool = True,
) -> ApplyReport:
    """Apply outbox rows to every index target; returns what was applied and what failed.

    ``doc_ids`` restricts to those documents (the after-commit path); otherwise rows are
    taken oldest first, only those due (``due_only``) unless an operator asks for all.
    """
    from portal.search.documents import docs_for
    from portal.search.registry import index_targets

    started = time.monotonic()
    report = ApplyReport()
    targets = index_targets(app)
    with Session(db.engine) as session:
        stmt = select(SearchOutbox.id, SearchOutbox.doc_id, SearchOutbox.attempts).order_by(
            SearchOutbox.id
        )
        if doc_ids is not None:
            # A bulk import may touch 50k documents: take a bounded share, the worker the rest.
            wanted = sorted(doc_ids)[: limit or None]
            stmt = stmt.where(SearchOutbox.doc_id.in_(wanted))
        elif due_only:
            stmt = stmt.where(SearchOutbox.next_attempt_at <= utcnow())
        if limit:
            stmt = stmt.limit(limit)
        rows_by_doc: dict[str, list[tuple[int, int]]] = {}
        for row_id, doc_id, attempts in session.execute(stmt):
            rows_by_doc.setdefault(doc_id, []).append((row_id, attempts))
        doc_list = list(rows_by_doc)
        for start in range(0, len(doc_list), APPLY_BATCH):
            if time_budget is not None and time.monotonic() - started > time_budget:
                break  # the rest stays in the outbox for the worker
            batch = doc_list[start : start + APPLY_BATCH]
            docs = docs_for(session, batch)
            upserts = [doc for doc in docs.values() if doc is not None]
            deletes = [doc_id for doc_id, doc in docs.items() if doc is None]
            session.expunge_all()
            error = _apply_to_targets(targets, upserts, deletes)
            row_ids = [row_id for doc_id in batch for row_id, _ in rows_by_doc[doc_id]]
            if error is None:
                session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(row_ids)))
                report.applied += len(batch)
            else:
                report.failed += len(batch)
                report.errors.append(error)
                now = utcnow()
                for doc_id in batch:
                    for row_id, attempts in rows_by_doc[doc_id]:
                        session.execute(
                            update(SearchOutbox)
                            .where(SearchOutbox.id == row_id)
                            .values(
                                attempts=attempts + 1,
                                next_attempt_at=now + backoff(attempts + 1),
                                last_error=error[:1000],
                            )
                        )
            session.commit()
    return report


def _apply_to_targets(targets, upserts, deletes) -> str | None:
    errors = []
    for backend in targets:
        try:
            backend.upsert(upserts)
            backend.delete(deletes)
        except Exception as err:  # engine down, timeout, mapping error…: retry later
            log.warning("Search index %s not updated (%s); kept in the outbox", backend.name, err)
            errors.append(f"{backend.name}: {type(err).__name__}: {err}")
    return "; ".join(errors) or None


def pending_count(session: Session | None = None) -> int:
    from sqlalchemy import func

    session = session or db.session
    return session.scalar(select(func.count(SearchOutbox.id))) or 0
