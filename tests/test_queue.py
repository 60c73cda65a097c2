"""The one job queue (portal/core/queue.py): claims, leases, the retry policy, the dead letter,
exclusive keys, SIGTERM hand-back and the figures /metrics and `flask queue status` show —
on whichever database the suite runs (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select, update

from portal.core import queue
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.models import MAIL_QUEUE, OutgoingMail, new_message_token
from portal.reviews.models import JOBS_QUEUE, BackgroundJob
from portal.search.models import SEARCH_QUEUE, SearchOutbox


def _mail(count: int) -> list[int]:
    now = utcnow()
    db.session.execute(
        insert(OutgoingMail),
        [
            {
                "to_address": f"q{n}@example.org",
                "subject": "s",
                "body_text": "b",
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
                "message_token": new_message_token(),
            }
            for n in range(count)
        ],
    )
    db.session.commit()
    return list(db.session.scalars(select(OutgoingMail.id).order_by(OutgoingMail.id)))


def _outbox(doc_ids: list[str]) -> None:
    now = utcnow()
    db.session.execute(
        insert(SearchOutbox),
        [{"doc_id": d, "created_at": now, "attempts": 0, "next_attempt_at": now} for d in doc_ids],
    )
    db.session.commit()


def _row(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def test_a_claimed_item_is_leased_and_invisible_until_the_lease_runs_out(app):
    ids = _mail(5)
    first = queue.claim(db.session, MAIL_QUEUE, 3)
    assert [c.id for c in first] == ids[:3]
    second = queue.claim(db.session, MAIL_QUEUE, 10)
    assert [c.id for c in second] == ids[3:]  # never the leased ones
    assert queue.claim(db.session, MAIL_QUEUE, 10) == []
    # The worker holding the first three died: once its lease is over, they are due again.
    later = utcnow() + MAIL_QUEUE.lease + timedelta(seconds=1)
    again = queue.claim(db.session, MAIL_QUEUE, 10, now=later)
    assert [c.id for c in again] == ids  # every lease has run out by then


def test_released_items_are_due_at_once_and_keep_their_attempts(app):
    [mail_id] = _mail(1)
    [claimed] = queue.claim(db.session, MAIL_QUEUE, 1)
    queue.release(db.session, MAIL_QUEUE, [claimed.id])
    db.session.commit()
    [again] = queue.claim(db.session, MAIL_QUEUE, 1)
    assert (again.id, again.attempts) == (mail_id, 0)


def test_one_backoff_policy_doubles_up_to_the_cap():
    waits = [queue.backoff(MAIL_QUEUE, n) for n in range(1, 9)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == timedelta(hours=1)
    assert queue.backoff(SEARCH_QUEUE, 1) == timedelta(seconds=5)
    assert queue.backoff(SEARCH_QUEUE, 3) == timedelta(seconds=20)
    assert queue.backoff(SEARCH_QUEUE, 40) == timedelta(hours=1)


def test_a_failure_is_retried_after_the_backoff_then_dead_lettered(app, runner):
    [mail_id] = _mail(1)
    [claimed] = queue.claim(db.session, MAIL_QUEUE, 1)
    assert queue.fail(db.session, MAIL_QUEUE, [(claimed.id, claimed.attempts)], "refused") == 0
    db.session.commit()
    row = _row(OutgoingMail, mail_id)
    assert (row.attempts, row.last_error, row.claimed_until, row.dead_at) == (
        1,
        "refused",
        None,
        None,
    )
    assert timedelta(seconds=50) < as_utc(row.next_attempt_at) - utcnow() <= timedelta(minutes=1)
    assert queue.claim(db.session, MAIL_QUEUE, 1) == []  # waiting out its backoff

    # The last allowed attempt fails too: dead letter, never claimed again, counted apart.
    db.session.execute(
        update(OutgoingMail).values(attempts=MAIL_QUEUE.max_attempts - 1, next_attempt_at=utcnow())
    )
    db.session.commit()
    [claimed] = queue.claim(db.session, MAIL_QUEUE, 1)
    assert queue.fail(db.session, MAIL_QUEUE, [(claimed.id, claimed.attempts)], "still") == 1
    db.session.commit()
    assert _row(OutgoingMail, mail_id).dead_at is not None
    far = utcnow() + timedelta(days=30)
    assert queue.claim(db.session, MAIL_QUEUE, 1, now=far) == []
    figures = queue.stats(db.session, MAIL_QUEUE)
    assert (figures.depth, figures.dead) == (0, 1)

    status = runner.invoke(args=["queue", "status"])
    assert status.exit_code == 0, status.output
    assert "mail_outbox: 0 waiting" in status.output and "1 dead" in status.output
    mail_status = runner.invoke(args=["mail", "status"])
    assert "Waiting to retry: 0" in mail_status.output
    assert "Given up (dead letter): 1" in mail_status.output

    # After fixing the cause an operator puts it back, with a fresh count.
    result = runner.invoke(args=["queue", "retry-dead", "mail_outbox"])
    assert result.exit_code == 0, result.output
    assert "mail_outbox: 1 dead item(s) queued again." in result.output
    row = _row(OutgoingMail, mail_id)
    assert (row.dead_at, row.attempts) == (None, 0)
    assert [c.id for c in queue.claim(db.session, MAIL_QUEUE, 1)] == [mail_id]
    assert runner.invoke(args=["queue", "retry-dead", "no-such-queue"]).exit_code != 0


def test_finished_items_are_never_claimed(app):
    ids = _mail(2)
    claimed = queue.claim(db.session, MAIL_QUEUE, 2)
    queue.complete(db.session, MAIL_QUEUE, [claimed[0].id], sent_at=utcnow())
    queue.release(db.session, MAIL_QUEUE, [claimed[1].id])
    db.session.commit()
    assert [c.id for c in queue.claim(db.session, MAIL_QUEUE, 5)] == [ids[1]]


def test_one_document_is_held_by_one_worker_at_a_time(app):
    # Two changes of the same document: a second worker must not apply the newer one while the
    # first still works on the older (the older state could land last).
    _outbox(["agreement:1", "agreement:2"])
    first = queue.claim(db.session, SEARCH_QUEUE, 1)
    assert [c.key for c in first] == ["agreement:1"]
    _outbox(["agreement:1"])
    second = queue.claim(db.session, SEARCH_QUEUE, 10)
    assert [c.key for c in second] == ["agreement:2"]
    queue.complete(db.session, SEARCH_QUEUE, [first[0].id])
    db.session.commit()
    third = queue.claim(db.session, SEARCH_QUEUE, 10)
    assert [c.key for c in third] == ["agreement:1"]
    assert third[0].id != first[0].id


def test_a_failing_job_is_retried_then_fails_for_good(app, monkeypatch):
    import portal.reviews.jobs as jobs
    from portal.reviews.services import INVITATION_JOB

    job = BackgroundJob(kind=INVITATION_JOB, params={"round_id": 1})
    db.session.add(job)
    db.session.commit()
    job_id = job.id

    def broken(job, batch_size):
        raise RuntimeError("directory server away")

    monkeypatch.setattr(jobs, "run_invitation_job", broken)
    assert jobs.run_pending_jobs() == 1
    row = _row(BackgroundJob, job_id)
    assert (row.status, row.attempts, row.dead_at) == ("queued", 1, None)
    assert "directory server away" in row.error
    assert jobs.run_pending_jobs() == 0  # waiting out its backoff
    for _ in range(JOBS_QUEUE.max_attempts - 1):
        db.session.execute(update(BackgroundJob).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert jobs.run_pending_jobs() == 1
    row = _row(BackgroundJob, job_id)
    assert (row.status, row.attempts) == ("failed", JOBS_QUEUE.max_attempts)
    assert row.dead_at is not None and row.finished_at is not None
    figures = queue.stats(db.session, JOBS_QUEUE)
    assert (figures.depth, figures.dead) == (0, 1)
    # Re-queued by an operator, it runs again from the start.
    assert queue.retry_dead(db.session, JOBS_QUEUE) == 1
    db.session.commit()
    row = _row(BackgroundJob, job_id)
    assert (row.status, row.attempts, row.dead_at, row.finished_at) == ("queued", 0, None, None)


def test_a_job_for_a_missing_round_fails_at_once(app):
    import portal.reviews.jobs as jobs
    from portal.reviews.services import INVITATION_JOB

    job = BackgroundJob(kind=INVITATION_JOB, params={"round_id": 987654})
    db.session.add(job)
    db.session.commit()
    assert jobs.run_pending_jobs() == 1
    row = _row(BackgroundJob, job.id)
    assert (row.status, row.error) == ("failed", "round not found")
    assert db.session.scalar(select(func.count(BackgroundJob.id))) == 1


def test_search_sync_takes_back_the_dead_letters_status_counts_them(app, runner):
    _outbox(["agreement:999991"])
    db.session.execute(update(SearchOutbox).values(attempts=30, dead_at=utcnow()))
    db.session.commit()
    status = runner.invoke(args=["search", "status"])
    assert "outbox: 1 pending, 0 failing, 1 dead" in status.output
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "1 dead-lettered row(s) queued again." in result.output
    assert "0 outbox row(s) left" in result.output


def test_a_deployment_can_shorten_every_lease(app, monkeypatch):
    """PORTAL_QUEUE_LEASE_SECONDS: a crashed worker's items come back after that, not 5 min."""
    ids = _mail(1)
    monkeypatch.setitem(app.config, "QUEUE_LEASE_SECONDS", 45)
    before = utcnow()
    assert [c.id for c in queue.claim(db.session, MAIL_QUEUE, 1)] == ids
    until = as_utc(_row(OutgoingMail, ids[0]).claimed_until)
    assert timedelta(seconds=44) <= until - before <= timedelta(seconds=50)
    queue.extend(db.session, MAIL_QUEUE, ids)
    assert as_utc(_row(OutgoingMail, ids[0]).claimed_until) - utcnow() <= timedelta(seconds=46)
    monkeypatch.setitem(app.config, "QUEUE_LEASE_SECONDS", None)
    assert queue.lease_of(MAIL_QUEUE) == MAIL_QUEUE.lease == timedelta(minutes=5)
