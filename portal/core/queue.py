"""One job queue for every kind of background work: mail, search indexing, long jobs.

Each kind keeps its own table (an e-mail row *is* the mail, a search outbox row names a
document, a review job has its progress), but they all carry the same queue columns and are
claimed, retried and dead-lettered by the functions here — one implementation, one policy:

``attempts``, ``next_attempt_at`` (due time: now, or later after a failure),
``claimed_until`` (a worker's lease), ``dead_at`` (dead letter: gave up after
``max_attempts``; an operator re-queues it with ``flask queue retry-dead``), and an error
column (``last_error``).

**Claim** (``claim``): one ``UPDATE … RETURNING`` that sets the lease on up to ``limit`` due,
unclaimed, live rows, committed at once. On PostgreSQL the candidates are picked
``FOR UPDATE SKIP LOCKED`` in a materialised CTE, so many workers on many machines each take
different rows without waiting for each other. SQLite has a single writer: the same UPDATE is
atomic there, so two workers never get the same row either. The work then runs *outside* any
transaction (an SMTP conversation, an engine round trip, a long job), so a slow SMTP server
never holds a lock that a web request waits for. A worker that dies mid-batch loses nothing:
its lease expires and another worker takes the rows (at-least-once; every consumer is
idempotent — mail keeps one Message-ID per row, search loads the current state, jobs skip what
they already did).

**Exclusive keys**: a queue may name a key column (search: the document id). At most one
worker holds rows of one key at a time, so an older state of a document can never land in
the index after a newer one. On PostgreSQL the claim takes a transaction-level advisory lock
per key and re-checks, under it, that no other worker holds the key; SQLite's single writer
gives the same guarantee to the one UPDATE.

**Results**: ``complete`` (done: a column update or the row deleted), ``fail`` (attempts + 1,
the backoff, the error; dead after ``max_attempts``), ``release`` (untried: due again at once,
e.g. on SIGTERM), ``extend`` (a long job's heartbeat). The caller commits.

**Metrics**: ``stats`` gives depth, oldest age, failing, claimed and dead per queue for
``/metrics`` and ``flask queue status``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click
from flask import current_app, has_app_context
from flask.cli import AppGroup
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text, true, update
from sqlalchemy.orm import Session, aliased

from portal.core.models import utcnow
from portal.extensions import db


@dataclass(frozen=True)
class Queue:
    """How one table is used as a queue. ``waiting`` is the condition of a row not finished
    yet (mail: not sent); rows that are deleted when done need none."""

    name: str  # the metric label, e.g. "mail_outbox"
    model: Any
    first_backoff: timedelta
    max_backoff: timedelta = timedelta(hours=1)
    max_attempts: int = 30
    lease: timedelta = timedelta(minutes=5)
    waiting: Callable[[], ColumnElement[bool]] | None = None
    key: str | None = None  # column: at most one worker holds the rows of a key at a time
    error_column: str = "last_error"
    order: Callable[[], Sequence[Any]] | None = None  # claim order (default: due time, id)
    revive: dict[str, Any] = field(default_factory=dict)  # values when a dead item is re-queued

    def col(self, name: str):
        return getattr(self.model, name)

    def is_waiting(self) -> ColumnElement[bool]:
        return self.waiting() if self.waiting is not None else true()


_QUEUES: dict[str, Queue] = {}


def register_queue(queue: Queue) -> Queue:
    """Domains declare their queues (next to their tables); metrics and the CLI list them."""
    _QUEUES[queue.name] = queue
    return queue


def registered_queues() -> list[Queue]:
    return [_QUEUES[name] for name in sorted(_QUEUES)]


def get_queue(name: str) -> Queue:
    return _QUEUES[name]


# --- the one retry policy -------------------------------------------------------------------


def backoff(queue: Queue, attempts: int) -> timedelta:
    """Exponential: ``first_backoff`` after the first failure, doubling, capped at
    ``max_backoff`` — a long outage costs one try per ``max_backoff`` per item."""
    if attempts <= 1:
        return queue.first_backoff
    return min(queue.first_backoff * (2 ** min(attempts - 1, 20)), queue.max_backoff)


# --- claiming -------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    attempts: int
    key: str | None = None


def _claimable(queue: Queue, now: datetime, due_only: bool) -> list[ColumnElement[bool]]:
    m = queue.model
    conditions = [
        queue.is_waiting(),
        m.dead_at.is_(None),
        or_(m.claimed_until.is_(None), m.claimed_until <= now),
    ]
    if due_only:
        conditions.append(m.next_attempt_at <= now)
    return conditions


def _held_by_others(queue: Queue, now: datetime):
    """Rows of the same key leased by someone else right now."""
    m = queue.model
    other = aliased(m)
    return (
        select(other.id)
        .where(getattr(other, queue.key) == getattr(m, queue.key))
        .where(other.claimed_until > now, other.id != m.id)
        .exists()
    )


def claim(
    session: Session,
    queue: Queue,
    limit: int,
    *,
    where: Iterable[ColumnElement[bool]] = (),
    due_only: bool = True,
    now: datetime | None = None,
    commit: bool = True,
) -> list[Claimed]:
    """Lease up to ``limit`` claimable rows to this worker and (by default) commit the claim."""
    now = now or utcnow()
    m = queue.model
    conditions = [*_claimable(queue, now, due_only), *where]
    if queue.key:
        conditions.append(~_held_by_others(queue, now))
    order = queue.order() if queue.order else (m.next_attempt_at, m.id)
    candidates = select(m.id).where(*conditions).order_by(*order).limit(limit)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    # Materialised: PostgreSQL may run a subquery in ``IN (…)`` twice, and with SKIP LOCKED
    # the second run would pick other rows — more than ``limit``.
    chosen = candidates.cte("chosen").prefix_with("MATERIALIZED", dialect="postgresql")
    returning = [m.id, m.attempts] + ([getattr(m, queue.key)] if queue.key else [])
    stmt = (
        update(m)
        # Re-checked by the UPDATE itself: a row another worker claimed meanwhile is skipped.
        .where(m.id == chosen.c.id, *_claimable(queue, now, due_only))
        .values(claimed_until=now + lease_of(queue))
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    rows = [
        Claimed(row[0], row[1] or 0, row[2] if queue.key else None) for row in session.execute(stmt)
    ]
    if queue.key and postgres and rows:
        rows = _keep_exclusive_keys(session, queue, rows, now)
    if commit:
        session.commit()
    return sorted(rows, key=lambda c: c.id)


_TRY_KEY_LOCKS = text(
    "SELECT k, pg_try_advisory_xact_lock(:space, hashtext(k)) "
    "FROM unnest(CAST(:keys AS text[])) AS k"
)


def _keep_exclusive_keys(session, queue: Queue, rows: list[Claimed], now) -> list[Claimed]:
    """PostgreSQL: two workers may have claimed rows of the same key in parallel (each saw
    no lease of the other yet). Under a per-key advisory lock, held until this claim commits,
    keep a key only if no *committed* lease of another worker holds it; hand back the rest."""
    m = queue.model
    space = zlib.crc32(queue.name.encode()) & 0x7FFFFFFF
    keys = sorted({c.key for c in rows})
    granted = {k for k, ok in session.execute(_TRY_KEY_LOCKS, {"space": space, "keys": keys}) if ok}
    mine = [c.id for c in rows]
    held = set()
    if granted:
        key_col = getattr(m, queue.key)
        held = set(
            session.scalars(
                select(key_col)
                .where(key_col.in_(granted), m.claimed_until > now, m.id.not_in(mine))
                .distinct()
            )
        )
    keep = [c for c in rows if c.key in granted and c.key not in held]
    refused = [c.id for c in rows if c not in keep]
    if refused:
        release(session, queue, refused)
    return keep


# --- results --------------------------------------------------------------------------------


def complete(session: Session, queue: Queue, ids: Sequence[int], **values: Any) -> None:
    """Done. With ``values`` (e.g. ``sent_at=now``) the row stays, updated; without, it is
    deleted (an outbox row that has served its purpose)."""
    if not ids:
        return
    m = queue.model
    if values:
        session.execute(
            update(m)
            .where(m.id.in_(ids))
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(delete(m).where(m.id.in_(ids)).execution_options(synchronize_session=False))


def fail(
    session: Session,
    queue: Queue,
    items: Iterable[tuple[int, int]],
    error: str,
    now: datetime | None = None,
    **values: Any,
) -> int:
    """Record a failed attempt of each (id, attempts before it): retried after ``backoff``,
    or dead-lettered after ``max_attempts``. Returns how many went to the dead letter."""
    now = now or utcnow()
    m = queue.model
    dead = 0
    for item_id, attempts in items:
        attempts += 1
        gave_up = attempts >= queue.max_attempts
        dead += gave_up
        session.execute(
            update(m)
            .where(m.id == item_id)
            .values(
                {
                    "attempts": attempts,
                    "next_attempt_at": now + backoff(queue, attempts),
                    "claimed_until": None,
                    "dead_at": now if gave_up else None,
                    queue.error_column: error[:2000],
                    **values,
                }
            )
            .execution_options(synchronize_session=False)
        )
    return dead


def release(session: Session, queue: Queue, ids: Sequence[int]) -> None:
    """Hand rows back untried: due again at once for any worker (a stopping worker, a batch
    cut short)."""
    if not ids:
        return
    m = queue.model
    session.execute(
        update(m)
        .where(m.id.in_(ids))
        .values(claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def lease_of(queue: Queue) -> timedelta:
    """The queue's lease, or ``QUEUE_LEASE_SECONDS`` when the deployment sets one."""
    if has_app_context():
        seconds = current_app.config.get("QUEUE_LEASE_SECONDS")
        if seconds:
            return timedelta(seconds=int(seconds))
    return queue.lease


def extend(session: Session, queue: Queue, ids: Sequence[int]) -> None:
    """A long job's heartbeat: keep the lease while it makes progress."""
    if not ids:
        return
    m = queue.model
    session.execute(
        update(m)
        .where(m.id.in_(ids))
        .values(claimed_until=utcnow() + lease_of(queue))
        .execution_options(synchronize_session=False)
    )


def retry_dead(session: Session, queue: Queue) -> int:
    """Put every dead-lettered row back in the queue with a fresh attempt count."""
    m = queue.model
    result = session.execute(
        update(m)
        .where(m.dead_at.is_not(None))
        .values(
            dead_at=None,
            attempts=0,
            next_attempt_at=utcnow(),
            claimed_until=None,
            **queue.revive,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- metrics --------------------------------------------------------------------------------


@dataclass
class QueueStats:
    depth: int = 0  # waiting, live (not dead)
    oldest: datetime | None = None  # created_at of the oldest waiting live row
    failing: int = 0  # waiting live rows that failed at least once
    claimed: int = 0  # leased to a worker right now
    dead: int = 0  # dead letter
    extra: dict[str, int] = field(default_factory=dict)


def stats(session: Session, queue: Queue, now: datetime | None = None) -> QueueStats:
    now = now or utcnow()
    m = queue.model
    live = and_(m.dead_at.is_(None), queue.is_waiting())
    depth, oldest, failing, claimed, dead = session.execute(
        select(
            func.count(m.id).filter(live),
            func.min(m.created_at).filter(live),
            func.count(m.id).filter(live, m.attempts > 0),
            func.count(m.id).filter(live, m.claimed_until > now),
            func.count(m.id).filter(m.dead_at.is_not(None)),
        )
    ).one()
    return QueueStats(depth or 0, oldest, failing or 0, claimed or 0, dead or 0)


# --- flask queue ... ------------------------------------------------------------------------

queue_cli = AppGroup("queue", help="The background job queue: status and dead letters.")


@queue_cli.command("status")
def status_command() -> None:
    """Depth, oldest item, failing, claimed and dead items of every queue."""
    for queue in registered_queues():
        s = stats(db.session, queue)
        oldest = f"{s.oldest:%Y-%m-%d %H:%M} UTC" if s.oldest else "—"
        click.echo(
            f"{queue.name}: {s.depth} waiting (oldest {oldest}), {s.failing} failing, "
            f"{s.claimed} claimed, {s.dead} dead"
        )
    db.session.rollback()


@queue_cli.command("retry-dead")
@click.argument("name")
def retry_dead_command(name: str) -> None:
    """Re-queue the dead letters of one queue (after fixing what made them fail)."""
    from portal.core.transaction import committing

    if name not in _QUEUES:
        raise click.BadParameter(f"unknown queue {name!r}; one of {', '.join(sorted(_QUEUES))}")
    with committing():
        count = retry_dead(db.session, _QUEUES[name])
    click.echo(f"{name}: {count} dead item(s) queued again.")


def due_condition(queue: Queue, now: datetime | None = None) -> ColumnElement[bool]:
    """Rows a worker could claim now (used by ``mail status``-like reports)."""
    return and_(*_claimable(queue, now or utcnow(), True))
