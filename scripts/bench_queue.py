#!/usr/bin/env python
"""The job queue (portal/core/queue.py) against a bare claim loop, with 1, 2 and 4 worker
processes, on SQLite and PostgreSQL, in the same run. Not run in CI.

    .venv/bin/python scripts/bench_queue.py                      # SQLite + PostgreSQL, 4,000 items
    .venv/bin/python scripts/bench_queue.py --items 10000 --repeat 5
    .venv/bin/python scripts/bench_queue.py --postgres ''        # SQLite only

The databases are scratch ones (a temporary SQLite file; the PostgreSQL database named by
``--postgres`` is created if missing and its tables dropped and re-created): never point it at
real data.

Per repetition, per worker count, the two contestants alternate (so a change in machine load hits
both alike; the figure printed is the median over the repetitions). Each drains the same number
of queued items (``outgoing_mail`` rows), ``--batch`` at a time, every worker a separate process
with its own connection:

- **bare**: the smallest loop that is still correct with many workers — one statement per batch
  that claims *and* finishes the items (PostgreSQL: ``UPDATE … FROM (SELECT … FOR UPDATE SKIP
  LOCKED LIMIT n)``; SQLite: ``UPDATE … WHERE id IN (SELECT … LIMIT n)``, atomic under its
  single writer), then commit. No lease, no retry, no dead letter: an item whose worker dies is
  simply marked done — this is the floor, not an alternative.
- **queue**: what the portal's workers do: ``queue.claim`` (the lease, committed), then
  ``queue.complete`` and commit — two transactions per batch, as real work happens between them.

Each worker records the ids it got; the run fails unless every item was taken exactly once
(duplicates = 0, lost = 0), which it prints. Last line per database: the 4-worker figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = os.environ.get(
    "PORTAL_BENCH_POSTGRES_URL",
    "postgresql+psycopg://portal:portal@127.0.0.1:5432/portal_bench_queue",
)


def make_engine(url: str):
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url)


def prepare(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("postgresql"):
        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    from portal.notifications.models import OutgoingMail, OutgoingMailAttachment

    engine = make_engine(url)
    tables = [OutgoingMailAttachment.__table__, OutgoingMail.__table__]
    for table in tables:
        table.drop(engine, checkfirst=True)
    for table in reversed(tables):
        table.create(engine)
    engine.dispose()


def fill(url: str, items: int) -> None:
    from sqlalchemy import delete, insert
    from sqlalchemy.orm import Session

    from portal.core.models import utcnow
    from portal.notifications.models import OutgoingMail, new_message_token

    engine = make_engine(url)
    with Session(engine) as session:
        session.execute(delete(OutgoingMail))
        now = utcnow()
        rows = [
            {
                "to_address": f"bench{n}@example.org",
                "subject": "s",
                "body_text": "b",
                "category": "bench",
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
                "message_token": new_message_token(),
            }
            for n in range(items)
        ]
        for start in range(0, items, 5000):
            session.execute(insert(OutgoingMail), rows[start : start + 5000])
        session.commit()
    if url.startswith("postgresql"):
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE outgoing_mail")
            conn.commit()
    engine.dispose()


BARE_PG = """
UPDATE outgoing_mail SET sent_at = now(), attempts = attempts + 1
FROM (SELECT id FROM outgoing_mail WHERE sent_at IS NULL AND next_attempt_at <= now()
      ORDER BY next_attempt_at, id LIMIT :n FOR UPDATE SKIP LOCKED) AS c
WHERE outgoing_mail.id = c.id RETURNING outgoing_mail.id
"""
BARE_SQLITE = """
UPDATE outgoing_mail SET sent_at = :now, attempts = attempts + 1
WHERE id IN (SELECT id FROM outgoing_mail WHERE sent_at IS NULL AND next_attempt_at <= :now
             ORDER BY next_attempt_at, id LIMIT :n) RETURNING id
"""


def worker(kind: str, url: str, batch: int, ready, go, out) -> None:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from portal.core import queue
    from portal.core.models import utcnow
    from portal.notifications.models import MAIL_QUEUE

    engine = make_engine(url)
    got: list[int] = []
    bare = text(BARE_PG if url.startswith("postgresql") else BARE_SQLITE)
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # connect before the clock starts
        session.rollback()
        ready.put(os.getpid())
        go.wait()
        while True:
            if kind == "bare":
                ids = [r[0] for r in session.execute(bare, {"n": batch, "now": utcnow()})]
                session.commit()
            else:
                ids = [c.id for c in queue.claim(session, MAIL_QUEUE, batch)]
                if ids:
                    queue.complete(session, MAIL_QUEUE, ids, sent_at=utcnow())
                    session.commit()
            if not ids:
                break
            got.extend(ids)
    out.put((os.getpid(), got, time.time()))
    engine.dispose()


def run(kind: str, url: str, items: int, workers: int, batch: int) -> tuple[float, int, int]:
    fill(url, items)
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=worker, args=(kind, url, batch, ready, go, out)) for _ in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every process imported, connected and waiting: start the clock
        ready.get(timeout=300)
    start_at = time.time()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    finished = max(r[2] for r in results)
    taken = [i for r in results for i in r[1]]
    duplicates = len(taken) - len(set(taken))
    lost = items - len(set(taken))
    return items / (finished - start_at), duplicates, lost


def bench(label: str, url: str, args) -> bool:
    prepare(url)
    counts = [int(n) for n in args.workers.split(",")]
    figures: dict[tuple[str, int], list[float]] = {}
    ok = True
    for _ in range(args.repeat):
        for n in counts:
            for kind in ("bare", "queue"):
                rate, dup, lost = run(kind, url, args.items, n, args.batch)
                figures.setdefault((kind, n), []).append(rate)
                if dup or lost:
                    ok = False
                    print(f"  !! {label} {kind} x{n}: duplicates {dup}, lost {lost}")
    print(f"\n{label}: {args.items} items, batches of {args.batch}, median of {args.repeat}")
    print(f"  {'workers':>7}  {'bare items/s':>12}  {'queue items/s':>13}  {'queue/bare':>10}")
    for n in counts:
        bare = statistics.median(figures[("bare", n)])
        mine = statistics.median(figures[("queue", n)])
        print(f"  {n:>7}  {bare:>12,.0f}  {mine:>13,.0f}  {mine / bare:>10.2f}")
    print(f"  duplicates {0 if ok else 'SOME'}, lost {0 if ok else 'SOME'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="'' to skip PostgreSQL")
    args = parser.parse_args()
    print(f"bench_queue: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= bench("SQLite", f"sqlite:///{Path(tmp) / 'queue.db'}", args)
    if args.postgres:
        ok &= bench("PostgreSQL", args.postgres, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
