"""The search outbox shared by many workers: on PostgreSQL every row is applied by exactly one
of them (FOR UPDATE SKIP LOCKED), and a worker told to stop (SIGTERM) finishes its batch and
leaves the rest to the others."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sqlalchemy import func, insert, select

import portal.search.outbox as outbox
from portal.core.models import utcnow
from portal.core.worker import run_loop
from portal.extensions import db
from portal.search.models import SearchOutbox


class RecordingIndex:
    """An index target that records which process (thread) applied which document."""

    name = "recording"

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.applied: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _record(self, ids):
        time.sleep(self.delay)  # an engine round trip: lets the other worker claim meanwhile
        with self._lock:
            self.applied += [(threading.current_thread().name, i) for i in ids]

    def upsert(self, docs):
        self._record([d.id for d in docs])

    def delete(self, ids):
        self._record(ids)


def queue(doc_ids: list[str]) -> None:
    now = utcnow()
    db.session.execute(
        insert(SearchOutbox),
        [{"doc_id": d, "created_at": now, "attempts": 0, "next_attempt_at": now} for d in doc_ids],
    )
    db.session.commit()


def left_in_outbox() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(SearchOutbox.id)))


@pytest.fixture
def index(monkeypatch):
    recording = RecordingIndex(delay=0.02)
    monkeypatch.setattr("portal.search.registry.index_targets", lambda app=None: [recording])
    monkeypatch.setattr(outbox, "APPLY_BATCH", 10)
    return recording


def test_two_workers_apply_every_row_exactly_once(app, index):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: row locks (SQLite serialises writers; one worker)")
    # Documents that no longer exist: applying them is a delete in the index.
    doc_ids = [f"agreement:{900000 + n}" for n in range(300)]
    queue(doc_ids)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                start.wait()
                # Like `flask search worker`: pass after pass until nothing is left.
                for _ in range(200):
                    report = outbox.apply_pending(app, due_only=False, should_stop=lambda: False)
                    if not report.applied and not left_in_outbox():
                        break
                db.session.remove()
        except BaseException as err:  # surfaced below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=worker, name=f"worker-{n}") for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    applied = [doc_id for _, doc_id in index.applied]
    duplicates = len(applied) - len(set(applied))
    lost = set(doc_ids) - set(applied)
    assert (duplicates, len(lost)) == (0, 0)
    assert sorted(applied) == sorted(doc_ids)
    assert left_in_outbox() == 0
    # Both really worked at the same time (else the test would prove nothing).
    by_worker = {name for name, _ in index.applied}
    assert by_worker == {"worker-1", "worker-2"}


def test_a_claimed_batch_is_invisible_to_another_worker_until_it_commits(app, index):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: row locks")
    queue([f"agreement:{900000 + n}" for n in range(5)])
    holding = threading.Event()
    release = threading.Event()
    seen_by_second: list[int] = []

    class SlowIndex(RecordingIndex):
        def delete(self, ids):
            holding.set()
            release.wait(30)
            super().delete(ids)

    slow = SlowIndex()

    def first():
        with app.app_context():
            from unittest import mock

            with mock.patch("portal.search.registry.index_targets", lambda app=None: [slow]):
                outbox.apply_pending(app, due_only=False, should_stop=lambda: False)
            db.session.remove()

    t = threading.Thread(target=first, name="first")
    t.start()
    assert holding.wait(30)
    # Meanwhile a second worker finds nothing to claim: it skips, it does not wait.
    report = outbox.apply_pending(app, due_only=False, should_stop=lambda: False)
    seen_by_second.append(report.applied)
    release.set()
    t.join(30)
    assert seen_by_second == [0]
    assert len(slow.applied) == 5
    assert left_in_outbox() == 0


def test_stopping_worker_finishes_its_batch_and_leaves_the_rest_unclaimed(app, index):
    queue([f"agreement:{900000 + n}" for n in range(35)])
    answers = iter([False, True])  # asked before each batch: one batch, then stop
    report = outbox.apply_pending(app, due_only=False, should_stop=lambda: next(answers))
    assert report.applied == 10
    assert left_in_outbox() == 25
    # The rest is free for any other worker at once (no lease to wait out).
    report = outbox.apply_pending(app, due_only=False, should_stop=lambda: False)
    assert report.applied == 25
    assert left_in_outbox() == 0


def test_sigterm_lets_the_current_step_finish_then_the_worker_stops(app, capsys):
    done: list[str] = []

    def long_step():
        os.kill(os.getpid(), signal.SIGTERM)  # systemd stops the worker mid-step
        time.sleep(0.2)  # the handler runs here; the step must still complete
        done.append("first step finished")
        return "batch done"

    def next_step():
        done.append("next step ran")

    run_loop("Test worker", [("one", long_step), ("two", next_step)], interval=60, once=False)
    assert done == ["first step finished"]
    out = capsys.readouterr().out
    assert "one: batch done" in out
    assert "stopped (SIGTERM)" in out
    assert signal.getsignal(signal.SIGTERM) is not None  # previous handler restored


# --- the one job queue (portal.core.queue), shared by mail, search and review jobs ------------


def test_many_workers_claim_from_the_job_queue_with_no_duplicate_and_no_loss(app):
    """Eight workers (each its own database connection) drain 2,000 mails through the generic
    claim at the same time: every item is taken exactly once. PostgreSQL: SKIP LOCKED; SQLite:
    one atomic UPDATE per claim, writers take turns."""
    from sqlalchemy.orm import Session

    from portal.core import queue as job_queue
    from portal.notifications.models import MAIL_QUEUE, OutgoingMail, new_message_token

    now = utcnow()
    db.session.execute(
        insert(OutgoingMail),
        [
            {
                "to_address": f"w{n}@example.org",
                "subject": "s",
                "body_text": "b",
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
                "message_token": new_message_token(),
            }
            for n in range(2000)
        ],
    )
    db.session.commit()
    expected = set(db.session.scalars(select(OutgoingMail.id)))
    engine = db.engine
    workers = 8 if db.engine.dialect.name == "postgresql" else 4
    start = threading.Barrier(workers)
    taken: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine = taken.setdefault(name, [])
        try:
            with Session(engine) as session:
                start.wait()
                while True:
                    claimed = job_queue.claim(session, MAIL_QUEUE, 25)
                    if not claimed:
                        break
                    ids = [c.id for c in claimed]
                    mine.extend(ids)
                    job_queue.complete(session, MAIL_QUEUE, ids, sent_at=utcnow())
                    session.commit()
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [
        threading.Thread(target=worker, args=(f"w{n}",), name=f"w{n}") for n in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    claimed_all = [i for ids in taken.values() for i in ids]
    assert len(claimed_all) - len(set(claimed_all)) == 0  # no duplicate
    assert set(claimed_all) == expected  # no loss
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(OutgoingMail.sent_at.is_(None))) == 0
    assert sum(1 for ids in taken.values() if ids) >= 2  # they really shared the work
