"""``flask --app portal mail …``: send the outbox now, run the delivery worker, show status."""

from __future__ import annotations

import signal
import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.mailer import deliver_due
from portal.notifications.models import OutgoingMail

mail_cli = AppGroup("mail", help="Send e-mail from the outbox.")


def _send_all_due(batch: int) -> tuple[int, int]:
    """Send batches until nothing due is left or a batch makes no progress (server down)."""
    sent = failed = 0
    while True:
        report = deliver_due(limit=batch)
        sent += report.sent
        failed += report.failed
        for error in report.errors:
            click.echo(f"  failed: {error}", err=True)
        if report.failed or report.sent < batch:
            return sent, failed


@mail_cli.command("send")
@click.option("--batch", default=100, show_default=True, help="Messages per SMTP connection.")
def send_command(batch):
    """Send every message that is due now."""
    sent, failed = _send_all_due(batch)
    waiting = _count_waiting()
    click.echo(f"Sent {sent}, failed {failed}, still waiting {waiting}.")
    if failed:
        raise SystemExit(1)


@mail_cli.command("worker")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch", default=100, show_default=True)
@click.option("--once", is_flag=True, help="Run one round and exit.")
def worker_command(interval, batch, once):
    """Keep sending due messages until interrupted (Ctrl-C stops cleanly)."""
    click.echo(f"Mail worker: SMTP {current_app.config['SMTP_URL']}, every {interval:g}s.")

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    # A service manager stops workers with SIGTERM: treat it like Ctrl-C. A message being sent
    # is then either recorded as sent or, at worst, retried after its claim expires.
    try:
        previous_handler = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous_handler = None
    try:
        while True:
            try:
                sent, failed = _send_all_due(batch)
            except Exception as exc:  # the database may be briefly away; keep the worker alive
                db.session.rollback()
                click.echo(f"Round failed: {exc}", err=True)
                sent = failed = 0
            if sent or failed:
                click.echo(f"Sent {sent}, failed {failed}.")
            db.session.remove()  # a fresh session per round: no stale identity map
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Mail worker stopped.")
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


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
    due = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(
            OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at <= now
        )
    )
    delayed = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(
            OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at > now
        )
    )
    click.echo(f"Sent: {sent}\nDue now: {due}\nWaiting to retry: {delayed}")
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
