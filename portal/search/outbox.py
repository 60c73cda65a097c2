"""Keeping the search indexes in step with the database: a transactional outbox.

1. ``after_flush`` (same transaction as the change): for every new, changed or deleted
   searchable object, insert a ``search_outbox`` row naming the affected document. A rollback
   removes these rows together with the change, so nothing half-done is ever indexed.
2. ``after_commit``: apply this transaction's rows at once, bounded (``SEARCH_APPLY_LIMIT``
   rows, ``SEARCH_APPLY_SECONDS``), in a fresh session. Success deletes the rows; failure
   schedules a retry with exponential backoff and is logged — a user's save never fails
   because an engine is down.
3. ``flask search sync`` / ``flask search worker`` retry what is left. Many workers may run
   at once: on PostgreSQL batches are claimed with ``FOR UPDATE SKIP LOCKED``
   (``apply_pending``).

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
from sqlalchemy import delete, event, insert, inspect, select, text, update
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
    should_stop: Callable[[], bool] | None = None,
) -> ApplyReport:
    """Apply outbox rows to every index target; returns what was applied and what failed.

    ``doc_ids`` restricts to those documents (the after-commit path); otherwise rows are
    taken oldest first, only those due (``due_only``) unless an operator asks for all.
    ``limit`` bounds the rows taken. Work goes in batches, each claimed, applied and committed
    on its own; ``should_stop`` (default: the worker received SIGTERM) is asked between
    batches, so a stopping worker finishes its current batch and leaves the rest unclaimed.

    Many workers (and the after-commit path of every web process) may run this at once. On
    PostgreSQL a batch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and each of its
    documents with a transaction-level advisory lock, so no row is applied by two processes,
    and two processes never write the same document concurrently (the later state could lose
    to the earlier one). The locks go with the transaction: a worker killed mid-batch loses
    nothing — its rows are free again when PostgreSQL drops the connection. SQLite serialises
    writers anyway; there the portal runs one worker (docs/deployment.md).
    """
    from portal.core.worker import stop_requested
    from portal.search.documents import docs_for
    from portal.search.registry import index_targets

    started = time.monotonic()
    report = ApplyReport()
    targets = index_targets(app)
    stop = should_stop or stop_requested
    wanted = sorted(doc_ids)[: limit or None] if doc_ids is not None else None
    left = limit
    cursor = 0  # rows are taken in id order; a failed or skipped row is not retried this call
    with Session(db.engine) as session:
        locking = session.get_bind().dialect.name == "postgresql"
        while left is None or left > 0:
            if time_budget is not None and time.monotonic() - started > time_budget:
                break  # the rest stays in the outbox for the worker
            if stop():
                break
            size = APPLY_BATCH if left is None else min(APPLY_BATCH, left)
            claimed, rows_by_doc, cursor = _claim_batch(
                session, cursor, size, wanted=wanted, due_only=due_only, locking=locking
            )
            if not claimed:
                break
            if left is not None:
                left -= claimed
            if rows_by_doc:
                _apply_batch(session, targets, rows_by_doc, report, docs_for)
            session.commit()  # releases this batch's row and document locks
    return report


# Advisory lock namespace (first key of pg_try_advisory_xact_lock(int, int)): search documents.
_DOC_LOCK_SPACE = 0x5EA5
_TRY_DOC_LOCKS = text(
    "SELECT d, pg_try_advisory_xact_lock(:space, hashtext(d)) "
    "FROM unnest(CAST(:docs AS text[])) AS d"
)


def _claim_batch(
    session: Session,
    cursor: int,
    size: int,
    *,
    wanted: list[str] | None,
    due_only: bool,
    locking: bool,
) -> tuple[int, dict[str, list[tuple[int, int]]], int]:
    """Claim up to ``size`` rows after ``cursor``: (rows claimed, {doc: [(row, attempts)]} of
    the documents this process may apply now, new cursor)."""
    stmt = (
        select(SearchOutbox.id, SearchOutbox.doc_id, SearchOutbox.attempts)
        .where(SearchOutbox.id > cursor)
        .order_by(SearchOutbox.id)
        .limit(size)
    )
    if wanted is not None:
        stmt = stmt.where(SearchOutbox.doc_id.in_(wanted))
    elif due_only:
        stmt = stmt.where(SearchOutbox.next_attempt_at <= utcnow())
    if locking:
        # Rows another worker holds are skipped, not waited for: it is applying them.
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if not rows:
        return 0, {}, cursor
    rows_by_doc: dict[str, list[tuple[int, int]]] = {}
    for row_id, doc_id, attempts in rows:
        rows_by_doc.setdefault(doc_id, []).append((row_id, attempts))
    if locking:
        # A newer row for a document another process is applying right now: leave it for a
        # later pass (it stays in the outbox), so that process's older state cannot land last.
        granted = session.execute(
            _TRY_DOC_LOCKS, {"space": _DOC_LOCK_SPACE, "docs": list(rows_by_doc)}
        ).all()
        for doc_id, ok in granted:
            if not ok:
                del rows_by_doc[doc_id]
    return len(rows), rows_by_doc, rows[-1][0]


def _apply_batch(session, targets, rows_by_doc, report: ApplyReport, docs_for) -> None:
    batch = list(rows_by_doc)
    docs = docs_for(session, batch)
    upserts = [doc for doc in docs.values() if doc is not None]
    deletes = [doc_id for doc_id, doc in docs.items() if doc is None]
    session.expunge_all()
    error = _apply_to_targets(targets, upserts, deletes)
    row_ids = [row_id for doc_id in batch for row_id, _ in rows_by_doc[doc_id]]
    if error is None:
        session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(row_ids)))
        report.applied += len(batch)
        return
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
