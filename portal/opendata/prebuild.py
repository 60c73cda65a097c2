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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, request
from sqlalchemy import select

from portal.core import queue
from portal.extensions import db
from portal.opendata.models import BUILDS_QUEUE
from portal.opendata.rebuilds import (
    BUILDS,
    ENVIRON_MODE,
    ENVIRON_STATE,
    enabled,
    has_builds_table,
    request_rebuild,
)
from portal.opendata.views import PUBLIC_FILES

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

    if not enabled() or not has_builds_table(db.session.connection()):
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
    live = select(BUILDS.c.id).where(BUILDS.c.dead_at.is_(None)).limit(1)
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
