"""Batch delivery: an outage in the middle of a large batch, a sender dying mid-batch, and
several senders side by side — against real SMTP servers (aiosmtpd) on loopback."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications import mailer
from portal.notifications.mailer import deliver_due
from portal.notifications.models import OutgoingMail, new_message_token

pytest_plugins = ["tests.smtp"]


def _queue(count: int, prefix: str = "partner") -> None:
    now = utcnow()
    db.session.execute(
        insert(OutgoingMail),
        [
            {
                "to_address": f"{prefix}{n:05d}@example.org",
                "subject": f"Your comment was answered ({n})",
                "body_text": f"Hello partner {n}, the secretariat answered your comment.",
                "body_html": f"<p>Hello partner {n}, the secretariat answered.</p>",
                "category": "bulk-test",
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
                "message_token": new_message_token(),
            }
            for n in range(count)
        ],
    )
    db.session.commit()


def _time_passes(minutes: int = 90) -> None:
    """Retry times and workers' leases of waiting messages move into the past."""
    past = utcnow() - timedelta(minutes=minutes)
    db.session.execute(
        update(OutgoingMail).where(OutgoingMail.sent_at.is_(None)).values(next_attempt_at=past)
    )
    db.session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.sent_at.is_(None), OutgoingMail.claimed_until.is_not(None))
        .values(claimed_until=past)
    )
    db.session.commit()


def _count(*where) -> int:
    return db.session.scalar(select(func.count(OutgoingMail.id)).where(*where))


def test_an_outage_in_the_middle_of_a_2000_message_batch_loses_nothing_and_sends_nothing_twice(
    app, runner, smtp_server_factory
):
    _queue(2000)
    first = smtp_server_factory(start=True)
    first.outage_after = 700  # accepts 700 messages, then refuses everything with 421
    app.config["SMTP_URL"] = first.url
    try:
        result = runner.invoke(args=["mail", "send", "--batch", "2000"])
        assert result.exit_code == 1
        assert "Sent 700, failed 2, still waiting 1300" in result.output
        assert len(first.messages) == 700
        db.session.expire_all()
        assert _count(OutgoingMail.sent_at.is_not(None)) == 700
        # The message that met the 421, and the next (connection closed), wait for a retry;
        # the 1,298 never tried are due again at once, with no attempt counted.
        failed = db.session.scalars(
            select(OutgoingMail).where(OutgoingMail.last_error.is_not(None))
        ).all()
        assert len(failed) == 2 and all(m.attempts == 1 for m in failed)
        assert "421" in failed[0].last_error
        assert _count(OutgoingMail.sent_at.is_(None), OutgoingMail.attempts == 0) == 1298

        # Now the server is gone altogether: nothing is sent, nothing is lost.
        first.stop()
        result = runner.invoke(args=["mail", "send"])
        assert result.exit_code == 1 and "Sent 0, failed 1" in result.output
        assert _count(OutgoingMail.sent_at.is_(None)) == 1300

        # Back on the same port: everything left goes out, once.
        second = smtp_server_factory(start=True, port=first.port)
        _time_passes()
        result = runner.invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        assert "Sent 1300, failed 0, still waiting 0" in result.output
    finally:
        app.config["SMTP_URL"] = "smtp://127.0.0.1:1"

    received = first.messages + second.wait_for(1300)
    assert len(received) == 2000
    recipients = Counter(str(m["To"]) for m in received)
    assert len(recipients) == 2000 and set(recipients.values()) == {1}
    ids = Counter(m["Message-ID"] for m in received)
    assert len(ids) == 2000
    db.session.expire_all()
    tokens = set(db.session.scalars(select(OutgoingMail.message_token)))
    assert {i.strip("<>").split("@")[0] for i in ids} == tokens
    assert _count(OutgoingMail.sent_at.is_(None)) == 0


def test_a_sender_dying_after_sending_resends_with_the_same_message_ids(
    app, smtp_server, monkeypatch
):
    """At-least-once: the batch was handed to the server but the process died before
    recording it. After the claim lease the batch goes again — with the same Message-IDs,
    so receiving systems drop the copies."""
    _queue(30)

    def die(*_args, **_kwargs):
        raise KeyboardInterrupt("killed")  # not an SMTP error: nothing is recorded

    monkeypatch.setattr(mailer, "_record_results", die)
    with pytest.raises(KeyboardInterrupt):
        deliver_due(limit=50)
    db.session.rollback()
    monkeypatch.undo()
    first_ids = sorted(m["Message-ID"] for m in smtp_server.wait_for(30))
    assert len(first_ids) == 30

    # Within the lease the claimed rows are left alone (the sender might still be working).
    assert deliver_due().sent == 0
    _time_passes(minutes=10)  # the five-minute lease has run out
    assert deliver_due().sent == 30
    resent = sorted(m["Message-ID"] for m in smtp_server.wait_for(60)[30:])
    assert resent == first_ids


def test_several_senders_side_by_side_never_send_a_message_twice(app, smtp_server):
    _queue(600)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with app.app_context():
                while deliver_due(limit=40):
                    pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    received = smtp_server.wait_for(600)
    assert len(received) == 600
    assert len({m["Message-ID"] for m in received}) == 600
    db.session.expire_all()
    assert _count(OutgoingMail.sent_at.is_(None)) == 0
    assert _count(OutgoingMail.attempts != 1) == 0
