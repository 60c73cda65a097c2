"""``flask --app portal consultations …``: send meeting reminders, run the consultations worker."""

from __future__ import annotations

import signal
import time

import click
from flask.cli import AppGroup

from portal.consultations.reminders import send_due_reminders
from portal.extensions import db
from portal.notifications.mailer import deliver_due

consultations_cli = AppGroup("consultations", help="Stakeholder consultations: reminders.")


def reminders_round() -> int:
    """Queue due reminders and commit them; the outbox then delivers them."""
    try:
        count = send_due_reminders()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return count


@consultations_cli.command("send-reminders")
def send_reminders_command():
    """Queue a reminder for every invitee of a meeting that is now within its reminder days.

    Safe to run as often as you like (e.g. hourly from cron): each invitee gets one reminder."""
    count = reminders_round()
    click.echo(f"Queued {count} reminder(s). `flask --app portal mail send` delivers them.")


@consultations_cli.command("worker")
@click.option("--interval", default=300.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and exit.")
def worker_command(interval, once):
    """Queue due reminders, then deliver the outbox, every INTERVAL seconds (Ctrl-C stops)."""

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread
        previous = None
    try:
        while True:
            try:
                queued = reminders_round()
                report = deliver_due(limit=200)
                if queued or report.sent or report.failed:
                    click.echo(
                        f"Reminders queued {queued}; "
                        f"mail sent {report.sent}, failed {report.failed}."
                    )
            except Exception as exc:  # the database or SMTP may be briefly away: keep going
                db.session.rollback()
                click.echo(f"Round failed: {exc}", err=True)
            db.session.remove()
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Consultations worker stopped.")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
