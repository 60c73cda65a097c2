"""E-mail outbox and SMTP delivery, against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.mailer import deliver_due, parse_smtp_url
from portal.notifications.models import OutgoingMail
from portal.notifications.services import queue_mail

# Registers the `smtp_server` fixture (a real aiosmtpd server).
pytest_plugins = ["tests.smtp"]


def _outbox() -> list[OutgoingMail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def _time_passes(minutes: int = 90) -> None:
    """Move every waiting message's retry time into the past, as if the clock had advanced."""
    db.session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.sent_at.is_(None))
        .values(next_attempt_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def test_mail_queued_by_a_request_is_sent_once_the_response_is_closed(
    client, factories, smtp_server
):
    user = factories.make_user(email="reader@example.org", name="Reader")
    db.session.commit()
    resp = client.post("/account/reset", data={"email": user.email})
    assert resp.status_code == 302
    assert smtp_server.messages == []  # nothing is sent while the request is still running
    resp.close()
    [message] = smtp_server.wait_for(1)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Partnership Portal <no-reply@portal.localhost>"
    assert message["Message-ID"].endswith("@portal.localhost>")
    assert message["Date"]
    assert "Hello Reader" in smtp_server.text(message)
    assert "<a href=" in smtp_server.html(message)
    assert smtp_server.envelopes == [("no-reply@portal.localhost", ["reader@example.org"])]
    [row] = _outbox()
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None


def test_smtp_down_never_fails_the_user_and_no_mail_is_lost(
    client, app, runner, factories, monkeypatch, smtp_server_factory
):
    server = smtp_server_factory()  # a port reserved, nothing listening on it yet
    monkeypatch.setitem(app.config, "SMTP_URL", server.url)
    user = factories.make_user(email="patient@example.org")
    db.session.commit()

    resp = client.post("/account/reset", data={"email": user.email}, follow_redirects=True)
    assert resp.status_code == 200
    assert "If an account exists for that address" in resp.get_data(as_text=True)
    [row] = _outbox()
    assert row.sent_at is None and row.attempts == 1
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    wait = as_utc(row.next_attempt_at) - utcnow()
    assert timedelta(seconds=30) < wait <= timedelta(minutes=1)

    # Not due yet: `mail send` leaves it alone; `mail status` explains why.
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "Sent 0, failed 0, still waiting 1" in result.output
    status = runner.invoke(args=["mail", "status"])
    assert "Waiting to retry: 1" in status.output and "patient@example.org" in status.output

    # Still down when it is due: a second failure waits longer (exponential backoff).
    _time_passes()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1 and "failed 1" in result.output
    [row] = _outbox()
    assert row.attempts == 2
    wait = as_utc(row.next_attempt_at) - utcnow()
    assert timedelta(minutes=1, seconds=30) < wait <= timedelta(minutes=2)

    server.start()
    _time_passes()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 1, failed 0, still waiting 0" in result.output
    [message] = server.wait_for(1)
    assert message["To"] == "patient@example.org"
    assert "/account/reset/" in server.text(message)
    [row] = _outbox()
    assert row.sent_at is not None and row.attempts == 3 and row.last_error is None
    # Sent mail is not sent again.
    runner.invoke(args=["mail", "send"])
    assert len(server.messages) == 1


def test_backoff_is_capped_at_an_hour(app, monkeypatch, smtp_server_factory):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server_factory().url)  # not listening
    mail = queue_mail("late@example.org", "Hi", "Body")
    db.session.commit()
    db.session.execute(update(OutgoingMail).values(attempts=15))
    db.session.commit()
    report = deliver_due()
    assert report.failed == 1
    [row] = _outbox()
    assert row.id == mail.id and row.attempts == 16
    wait = as_utc(row.next_attempt_at) - utcnow()
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)


def test_rolled_back_mail_is_never_sent(app, smtp_server):
    with app.test_request_context():
        queue_mail("ghost@example.org", "Never", "This change was rolled back.")
        db.session.flush()
        db.session.rollback()
    assert _outbox() == []
    assert deliver_due().sent == 0
    assert smtp_server.messages == []


def test_delivery_is_bounded_and_the_worker_sends_the_rest(app, runner, smtp_server):
    for n in range(25):
        queue_mail(f"member{n}@example.org", f"Meeting invitation {n}", "See you there.")
    db.session.commit()
    report = deliver_due(limit=20)
    assert report.sent == 20
    assert len(smtp_server.wait_for(20)) == 20
    result = runner.invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0 and "Sent 5, failed 0" in result.output
    assert len(smtp_server.wait_for(25)) == 25
    assert sorted(str(m["To"]) for m in smtp_server.messages) == sorted(
        f"member{n}@example.org" for n in range(25)
    )
    assert db.session.scalar(select(func.count()).where(OutgoingMail.sent_at.is_(None))) == 0


def test_a_refused_recipient_fails_alone(app, smtp_server):
    smtp_server.refuse.add("bounced@example.org")
    for to in ("first@example.org", "bounced@example.org", "third@example.org"):
        queue_mail(to, "Digest", "Weekly digest")
    db.session.commit()
    report = deliver_due()
    assert (report.sent, report.failed) == (2, 1)
    assert sorted(str(m["To"]) for m in smtp_server.wait_for(2)) == [
        "first@example.org",
        "third@example.org",
    ]
    failed = [row for row in _outbox() if row.sent_at is None]
    assert [row.to_address for row in failed] == ["bounced@example.org"]
    assert "550" in failed[0].last_error


# Loopback only, so AUTH without TLS is acceptable here; aiosmtpd warns about it regardless.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_login_with_credentials_from_the_url(app, monkeypatch, smtp_server_factory):
    server = smtp_server_factory(start=True, credentials=("mailer", "s3cret pass"))
    monkeypatch.setitem(
        app.config, "SMTP_URL", f"smtp://mailer:s3cret%20pass@127.0.0.1:{server.port}"
    )
    queue_mail("auth@example.org", "Authenticated", "Hello")
    db.session.commit()
    assert deliver_due().sent == 1
    assert server.wait_for(1)[0]["Subject"] == "Authenticated"

    # Without the credentials the server refuses the message; it stays in the outbox.
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    queue_mail("auth2@example.org", "Refused", "Hello")
    db.session.commit()
    report = deliver_due()
    assert report.failed == 1 and "530" in report.errors[0]
    assert len(server.messages) == 1


def test_smtp_url_forms():
    plain = parse_smtp_url("smtp://127.0.0.1:8025")
    assert (plain.host, plain.port, plain.mode, plain.username) == (
        "127.0.0.1",
        8025,
        "plain",
        None,
    )
    tls = parse_smtp_url("smtp+starttls://user%40org:p%3Ass@mail.example.org")
    assert (tls.host, tls.port, tls.mode) == ("mail.example.org", 587, "starttls")
    assert (tls.username, tls.password) == ("user@org", "p:ss")
    assert parse_smtp_url("smtps://mail.example.org").port == 465
