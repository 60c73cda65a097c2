"""Keeping the search indexes in step with the database: a transactional outbox on the job
queue (portal.core.queue).

1. ``after_flush`` (same transaction as the change): for every new, changed or deleted
   searchable object, insert a ``search_outbox`` row naming the affected document. A rollback
   removes these rows together with the change, so nothing half-done is ever indexed.
2. ``after_commit``: apply this transaction's rows, bounded (``SEARCH_APPLY_LIMIT`` rows,
   ``SEARCH_APPLY_SECONDS``), in a fresh session. **A save never waits on an engine**: inside a
   request, the database index (the default backend, and the fallback of an external engine)
   is written at once — the author finds what they saved — and the external engine
   (Elasticsearch, Meilisearch) is written after the response has been handed to the client
   (``call_on_close``, as mail is sent), or by the worker. ``SEARCH_ENGINE_WRITES =
   "in-request"`` restores the old behaviour (kept for the save benchmark,
   scripts/bench_save.py). Outside a request (CLI, worker, scripts) everything is applied at
   once. Success deletes the rows; failure schedules a retry with the queue's backoff and is
   logged — a user's save never fails because an engine is down.
3. ``flask search sync`` / ``flask search worker`` / ``flask worker`` retry what is left. Many
   workers may run at once: batches are claimed through the job queue (``SEARCH_QUEUE``;
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one atomic UPDATE on SQLite), and one document is
   held by one worker at a time (the queue's exclusive key), so an older state can never land
   in the index after a newer one.

Rows carry only a document id: whoever applies them loads the object's *current* state, so
rows may be applied twice, late or out of order and the index still ends up right.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from portal.core import queue
from portal.core.models import utcnow
from portal.extensions import db
from portal.search.models import SEARCH_QUEUE, SearchOutbox

log = logging.getLogger(__name__)

_PENDING = "search_outbox_pending"  # doc ids written by the current transaction
_AFTER_RESPONSE = "portal.search_after_response"  # (doc ids, targets) for call_on_close
APPLY_BATCH = 100
# Organisation fields that appear in their agreements' documents (party names).
_ORG_FIELDS_IN_AGREEMENTS = ("name", "acronym")

_listeners_installed = False


def init_search(app: Flask) -> None:
    app.config.setdefault("SEARCH_INDEX_PREFIX", "portal")
    app.config.setdefault("SEARCH_APPLY_ON_COMMIT", True)
    app.config.setdefault("SEARCH_APPLY_LIMIT", 200)
    app.config.setdefault("SEARCH_APPLY_SECONDS", 2.0)
    app.config.setdefault("SEARCH_ENGINE_WRITES", "after-response")  # or "in-request"

    @app.after_request
    def _apply_engines_after_response(response):
        pending = g.pop(_AFTER_RESPONSE, None)
        if pending:
            real_app = current_app._get_current_object()
            ids, targets = pending
            response.call_on_close(lambda: apply_in_fresh_context(real_app, ids, targets))
        return response

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
    if has_request_context() and app.config.get("SEARCH_ENGINE_WRITES") != "in-request":
        from portal.search.registry import index_targets, is_database

        targets = index_targets(app)
        engines = [t for t in targets if not is_database(t)]
        if engines:
            _apply_database_now_engines_later(app, ids, targets, engines)
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


def _apply_database_now_engines_later(app: Flask, ids, targets, engines) -> None:
    """In a request with an external engine: write the database index now (read-your-writes
    for the author, and the fallback is current), leave the engine for after the response.
    The outbox rows stay until the engine has them."""
    local = [t for t in targets if t not in engines]
    later = engines
    try:
        apply_documents(local, ids)
    except Exception:
        log.exception("Database search index not updated in the request; retried with the engine")
        later = targets
    pending_ids, pending_targets = g.get(_AFTER_RESPONSE, (set(), []))
    pending_ids = set(pending_ids) | set(ids)
    pending_targets = pending_targets + [t for t in later if t not in pending_targets]
    setattr(g, _AFTER_RESPONSE, (pending_ids, pending_targets))


def apply_documents(targets, doc_ids) -> None:
    """Write the current state of ``doc_ids`` to ``targets`` (outbox rows untouched)."""
    from portal.search.documents import docs_for

    with Session(db.engine) as session:
        docs = docs_for(session, sorted(doc_ids))
        session.rollback()
    upserts = [doc for doc in docs.values() if doc is not None]
    deletes = [doc_id for doc_id, doc in docs.items() if doc is None]
    for backend in targets:
        backend.upsert(upserts)
        backend.delete(deletes)


def apply_in_fresh_context(app: Flask, ids, targets) -> None:
    """After the response: apply these documents' outbox rows to ``targets`` (the engines)."""
    with app.app_context():
        try:
            apply_pending(
                app,
                doc_ids=ids,
                targets=targets,
                limit=app.config["SEARCH_APPLY_LIMIT"],
                time_budget=app.config["SEARCH_APPLY_SECONDS"],
            )
        except Exception:  # never surface near a user; the worker retries
            log.exception("Applying search outbox after the response failed; the worker retries")


@dataclass
class ApplyReport:
    applied: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def apply_pending(
    app: Flask,
    *,
    doc_ids: Iterable[str] | None = None,
    limit: int | None = None,
    time_budget: float | None = None,
    due_only: bool = True,
    should_stop: Callable[[], bool] | None = None,
    targets: list | None = None,
) -> ApplyReport:
    """Apply outbox rows to every index target (or ``targets``); returns what was applied and
    what failed.

    ``doc_ids`` restricts to those documents (the after-commit path); otherwise rows are
    taken oldest first, only those due (``due_only``) unless an operator asks for all.
    ``limit`` bounds the rows taken. Work goes in batches, each claimed (a lease, committed),
    applied, and recorded with one commit; ``should_stop`` (default: the worker received
    SIGTERM) is asked between batches, so a stopping worker finishes its current batch and
    leaves the rest unclaimed.

    Many workers (and the after-commit path of every web process) may run this at once: the
    job queue gives each row to one of them, and each document to one of them at a time. A
    worker killed mid-batch loses nothing: its lease runs out and another worker applies the
    rows.
    """
    from portal.core.worker import stop_requested
    from portal.search.documents import docs_for
    from portal.search.registry import index_targets

    started = time.monotonic()
    report = ApplyReport()
    targets = targets if targets is not None else index_targets(app)
    stop = should_stop or stop_requested
    wanted = sorted(doc_ids)[: limit or None] if doc_ids is not None else None
    left = limit
    cursor = 0  # rows are taken in id order; a failed or skipped row is not retried this call
    with Session(db.engine) as session:
        while left is None or left > 0:
            if time_budget is not None and time.monotonic() - started > time_budget:
                break  # the rest stays in the outbox for the worker
            if stop():
                break
            size = APPLY_BATCH if left is None else min(APPLY_BATCH, left)
            where = [SearchOutbox.id > cursor]
            if wanted is not None:
                where.append(SearchOutbox.doc_id.in_(wanted))
            claimed = queue.claim(
                session,
                SEARCH_QUEUE,
                size,
                where=where,
                due_only=due_only and wanted is None,
            )
            if not claimed:
                break
            cursor = max(c.id for c in claimed)
            if left is not None:
                left -= len(claimed)
            rows_by_doc: dict[str, list[tuple[int, int]]] = {}
            for c in claimed:
                rows_by_doc.setdefault(c.key, []).append((c.id, c.attempts))
            _apply_batch(session, targets, rows_by_doc, report, docs_for)
            session.commit()
            if len(claimed) < size:
                # Nothing else was claimable a moment ago: another claim (a statement and a
                # commit, in every save's request) would only find the same nothing.
                break
    return report


def _apply_batch(session, targets, rows_by_doc, report: ApplyReport, docs_for) -> None:
    batch = list(rows_by_doc)
    docs = docs_for(session, batch)
    upserts = [doc for doc in docs.values() if doc is not None]
    deletes = [doc_id for doc_id, doc in docs.items() if doc is None]
    session.expunge_all()
    error = _apply_to_targets(targets, upserts, deletes)
    rows = [row for doc_id in batch for row in rows_by_doc[doc_id]]
    if error is None:
        queue.complete(session, SEARCH_QUEUE, [row_id for row_id, _ in rows])
        report.applied += len(batch)
        return
    report.failed += len(batch)
    report.errors.append(error)
    report.dead += queue.fail(session, SEARCH_QUEUE, rows, error)


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
