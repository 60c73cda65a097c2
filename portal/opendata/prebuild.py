"""The public files under /open-data/ rebuilt in the background after a catalogue change.

A whole-catalogue file takes 11–25 s to build at 100,000 agreements. Built on the first
request after a change (the export cache's way, ``cache.py``), that request waits; a harvester
with a 10 s timeout fails. So:

1. **A change asks for a rebuild, in its own transaction.** When a session's change moves the
   catalogue token (``catalogue_index.CHANGE_LISTENERS``) or attaches or removes an agreement
   document (the IATI activity file lists them), one statement inserts an ``open_data_builds``
   row due ``OPEN_DATA_PREBUILD_DELAY`` seconds later — unless one is already waiting (not yet
   claimed), which the change then joins: ten saves in a minute give one rebuild, and the
   first save's delay bounds how long the files lag behind. A change that rolls back asks for
   nothing. Two transactions committing at the same instant may both insert; the second
   rebuild finds the files built and costs a few stat calls.
2. **The worker builds them** (the ``open data`` step of ``flask worker``; the queue's
   exclusive key lets one worker at a time do it): every file of ``views.PUBLIC_FILES``, for
   the catalogue state current when it runs, through the same view functions and cache keys
   as a request to ``BASE_URL`` — a request context at that address, so the key the job writes
   is the key a reader's request computes. The lease is renewed after each file; SIGTERM hands
   the job back between files.
3. **Readers meanwhile get the previous file** (``rebuilding``): while a rebuild is waiting or
   running, not older than ``OPEN_DATA_STALE_MAX_SECONDS``, a public file whose current copy is
   not built yet is sent as its newest complete copy (``Last-Modified`` its build time,
   ``Cache-Control: public, no-cache``, ``X-Open-Data-State: previous``). Without a rebuild in
   sight (the worker is down, the day changed, no previous copy) the request builds the file
   as before. Member and staff downloads are never sent stale: they have no previous copy.
   A change that may take a record out of the public files (visibility, archiving, deletion,
   an organisation made non-public, any bulk UPDATE/DELETE on agreements or organisations)
   marks the live rebuilds ``withdraws``: no previous file is sent until they are done.

``flask opendata prebuild`` runs the same ``build_public_files`` at once (cron, after an
import). Once a day (and when it starts) an idle worker checks that the day's files exist —
their key holds the date — and queues a rebuild if not.

``OPEN_DATA_PREBUILD`` (default on; off in the test configuration, where a test that changes
the catalogue expects the next download to show it) switches 1–3 off together.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context, request
from sqlalchemy import DateTime, Integer, String, event, inspect, literal, or_, select
from sqlalchemy.orm import Session

from portal.agreements import catalogue_index
from portal.agreements.models import Agreement, AgreementDocument
from portal.core import queue
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.opendata.models import BUILDS_QUEUE, OpenDataBuild
from portal.partners.models import Organization

_BUILDS = OpenDataBuild.__table__
# Set by ``build_public_files`` on its request (what the view must do), and by the view (what
# it did: "hit", "built", "previous", "missing"); a WSGI environ is one request's own.
ENVIRON_MODE = "portal.open_data.prebuild"
ENVIRON_STATE = "portal.open_data.cache"
_PRESENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("OPEN_DATA_PREBUILD"))


def _has_builds_table(connection) -> bool:
    """Whether the database has ``open_data_builds`` (a positive answer is kept per engine):
    code deployed before its migration must not break a save."""
    engine = connection.engine
    if _PRESENT.get(engine):
        return True
    present = inspect(connection).has_table(_BUILDS.name)
    if present:
        _PRESENT[engine] = True
    return present


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
        select(_BUILDS.c.id)
        .where(
            _BUILDS.c.dead_at.is_(None),
            or_(_BUILDS.c.claimed_until.is_(None), _BUILDS.c.claimed_until <= now),
        )
        .exists()
    )
    connection.execute(
        _BUILDS.insert().from_select(
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
        connection.execute(
            _BUILDS.update().where(_BUILDS.c.dead_at.is_(None)).values(withdraws=True)
        )


def _on_catalogue_change(connection) -> None:
    if enabled() and _has_builds_table(connection):
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
    if (documents or withdrawn) and _has_builds_table(session.connection()):
        request_rebuild(session.connection(), withdraws=withdrawn)


@event.listens_for(Session, "do_orm_execute")
def _bulk_change(orm_execute_state):
    """An UPDATE or DELETE statement on agreements or organisations may withdraw anything."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete) or not enabled():
        return
    table = getattr(orm_execute_state.statement, "table", None)
    if getattr(table, "name", None) in ("agreements", "organizations"):
        connection = orm_execute_state.session.connection()
        if _has_builds_table(connection):
            request_rebuild(connection, withdraws=True)


def rebuilding() -> bool:
    """Whether a rebuild is waiting or running (not dead, asked for less than
    ``OPEN_DATA_STALE_MAX_SECONDS`` ago): then a public file may be sent as its previous copy.
    One read, made only when the current copy is missing and a previous one exists."""
    if not enabled():
        return False
    connection = db.session.connection()
    if not _has_builds_table(connection):
        return False
    oldest = utcnow() - timedelta(
        seconds=float(current_app.config.get("OPEN_DATA_STALE_MAX_SECONDS", 900))
    )
    live = connection.execute(
        select(_BUILDS.c.created_at, _BUILDS.c.withdraws).where(_BUILDS.c.dead_at.is_(None))
    ).all()
    if any(withdraws for _created, withdraws in live):
        return False
    return any(as_utc(created) >= oldest for created, _withdraws in live)


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Built:
    name: str  # e.g. "agreements.csv", "iati/activities.xml"
    url: str  # the address its key was computed for
    state: str  # "built" (now), "hit" (was current already)
    seconds: float
    bytes: int


def build_public_files(
    *,
    progress: Callable[[str], None] | None = None,
    after_each: Callable[[Built], None] | None = None,
    stop: Callable[[], bool] | None = None,
    only_check: bool = False,
) -> list[Built]:
    """Put every public file of the current catalogue state into the export cache, as a
    request to ``BASE_URL`` would (same view functions, same keys); files already there are
    left as they are. ``progress(name)`` before each file, ``after_each`` after it, ``stop()``
    checked between files. ``only_check``: build nothing, report which are current ("hit")
    and which missing ("missing")."""
    from portal.opendata.views import PUBLIC_FILES

    app = current_app._get_current_object()
    base = app.config["BASE_URL"].rstrip("/")
    done: list[Built] = []
    for name, (path, produce) in PUBLIC_FILES.items():
        if stop is not None and stop():
            break
        if progress is not None:
            progress(name)
        started = time.perf_counter()
        size = 0
        mode = "check" if only_check else "build"  # the view never answers a previous copy
        with app.test_request_context(path, base_url=base, environ_overrides={ENVIRON_MODE: mode}):
            url = request.base_url
            response = produce()
            state = request.environ.get(ENVIRON_STATE, "built")
            try:
                if state == "built":
                    for chunk in response.response:  # streamed: written to the cache as read
                        size += len(chunk)
            finally:
                response.close()
        built = Built(name, url, state, time.perf_counter() - started, size)
        done.append(built)
        if after_each is not None:
            after_each(built)
    return done


# --------------------------------------------------------------------------- the worker's step


_checked_day: dict[int, str] = {}  # per application: the day whose files were last checked


def run_due_rebuild() -> str | None:
    """One round of the worker: run a due rebuild, if any; else, once a day, queue one when the
    day's files are missing. A report line, or None when there was nothing to do."""
    from portal.core.worker import stop_requested

    if not enabled() or not _has_builds_table(db.session.connection()):
        db.session.rollback()
        return None
    claimed = queue.claim(db.session, BUILDS_QUEUE, 1)
    if not claimed:
        return _daily_check()
    job = claimed[0]

    def heartbeat(_built: Built) -> None:
        queue.extend(db.session, BUILDS_QUEUE, [job.id])
        db.session.commit()

    started = time.perf_counter()
    try:
        done = build_public_files(after_each=heartbeat, stop=stop_requested)
    except Exception as exc:  # recorded, retried with the queue's backoff
        db.session.rollback()
        current_app.logger.exception("open-data rebuild %s failed", job.id)
        queue.fail(
            db.session, BUILDS_QUEUE, [(job.id, job.attempts)], f"{type(exc).__name__}: {exc}"
        )
        db.session.commit()
        return f"rebuild failed: {type(exc).__name__}: {exc}"
    from portal.opendata.views import PUBLIC_FILES

    if len(done) < len(PUBLIC_FILES):  # SIGTERM: the next worker goes on from here
        queue.release(db.session, BUILDS_QUEUE, [job.id])
        db.session.commit()
        return f"rebuild stopped after {len(done)} of {len(PUBLIC_FILES)} files"
    queue.complete(db.session, BUILDS_QUEUE, [job.id])
    db.session.commit()
    built = sum(1 for b in done if b.state != "hit")
    return f"{built} of {len(done)} public files built in {time.perf_counter() - started:.1f} s"


def _daily_check() -> str | None:
    today = datetime.now(UTC).date().isoformat()
    app_id = id(current_app._get_current_object())
    if _checked_day.get(app_id) == today:
        return None
    live = select(_BUILDS.c.id).where(_BUILDS.c.dead_at.is_(None)).limit(1)
    if db.session.execute(live).first() is not None:  # a rebuild is coming: it will see
        db.session.rollback()
        return None
    _checked_day[app_id] = today
    missing = [b.name for b in build_public_files(only_check=True) if b.state == "missing"]
    if not missing:
        db.session.rollback()
        return None
    request_rebuild(db.session.connection(), delay=0)
    db.session.commit()
    return f"rebuild queued: {len(missing)} public files missing for {today}"
