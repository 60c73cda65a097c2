"""``flask --app portal mail …``: send the outbox now, run the delivery worker, show status."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.core.models import utcnow
from portal.core.worker import worker_step
from portal.extensions import db
from portal.notifications.mailer import DEFAULT_BATCH, deliver_due
from portal.notifications.models import OutgoingMail

# Messages per deliver_due call (one SMTP connection); claimed and committed per ``batch``.
SEND_ROUND = 5000

mail_cli = AppGroup("mail", help="Send e-mail from the outbox.")


def _send_all_due(batch: int) -> tuple[int, int]:
    """Send batches until nothing due is left, or a batch was cut short (server down)."""
    sent = failed = 0
    while True:
        report = deliver_due(limit=SEND_ROUND, batch=batch)
        sent += report.sent
        failed += report.failed
        for error in report.errors:
            click.echo(f"  failed: {error}", err=True)
        if report.interrupted or not report:
            return sent, failed


@mail_cli.command("send")
@click.option(
    "--batch", default=DEFAULT_BATCH, show_default=True, help="Messages per claim and commit."
)
def send_command(batch):
    """Send every message that is due now."""
    sent, failed = _send_all_due(batch)
    waiting = _count_waiting()
    click.echo(f"Sent {sent}, failed {failed}, still waiting {waiting}.")
    if failed:
        raise SystemExit(1)


@worker_step("mail", order=90)  # last: mail queued by the other steps goes out this round
def send_due_report(batch: int = DEFAULT_BATCH) -> str | None:
    sent, failed = _send_all_due(batch)
    return f"Sent {sent}, failed {failed}." if sent or failed else None


@mail_cli.command("worker")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch", default=DEFAULT_BATCH, show_default=True)
@click.option("--once", is_flag=True, help="Run one round and exit.")
def worker_command(interval, batch, once):
    """Keep sending due messages until interrupted (Ctrl-C stops cleanly)."""
    from portal.core.worker import run_loop

    click.echo(f"Mail worker: SMTP {current_app.config['SMTP_URL']}, every {interval:g}s.")
    steps = [("mail", lambda: send_due_report(batch))]
    run_loop("Mail worker", steps, interval=interval, once=once)


def _count_waiting() -> int:
    return db.session.scalar(
        select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_(None))
    )


@mail_cli.command("status")
def status_command():
    """Counts of sent, due and delayed messages, and the latest errors."""
    now = utcnow()
    sent = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_not(None))
    )
    live = (OutgoingMail.sent_at.is_(None), OutgoingMail.dead_at.is_(None))
    due = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(*live, OutgoingMail.next_attempt_at <= now)
    )
    delayed = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(*live, OutgoingMail.next_attempt_at > now)
    )
    dead = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(
            OutgoingMail.sent_at.is_(None), OutgoingMail.dead_at.is_not(None)
        )
    )
    click.echo(f"Sent: {sent}\nDue now: {due}\nWaiting to retry: {delayed}")
    if dead:
        click.echo(
            f"Given up (dead letter): {dead} — "
            "`flask --app portal queue retry-dead mail_outbox` sends them again"
        )
    failing = db.session.scalars(
        select(OutgoingMail)
        .where(OutgoingMail.sent_at.is_(None), OutgoingMail.last_error.is_not(None))
        .order_by(OutgoingMail.next_attempt_at)
        .limit(10)
    ).all()
    for mail in failing:
        click.echo(
            f"  #{mail.id} to {mail.to_address} — {mail.attempts} attempt(s), "
            f"next {mail.next_attempt_at:%Y-%m-%d %H:%M} UTC: {mail.last_error}"
        )


@worker_step("notifications", order=30)
def notifications_round_report() -> str | None:
    """One worker round of notification work: staff summaries, then due digests."""
    from portal.consultations.staff_notices import raise_staff_notices
    from portal.notifications.events import send_digests

    staff = raise_staff_notices()
    db.session.commit()
    digests = send_digests()
    db.session.commit()
    if not (staff or digests):
        return None
    return f"{staff} staff notice(s), {digests} digest(s) queued"


@mail_cli.command("digests")
def digests_command():
    """Raise staff summaries and queue every digest that is due now (the worker does this
    each round)."""
    click.echo(notifications_round_report() or "Nothing due.")
