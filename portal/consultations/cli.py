"""``flask --app portal consultations …``: send meeting reminders, run the consultations worker."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.consultations.reminders import send_due_reminders
from portal.core.transaction import committing
from portal.core.worker import worker_step

consultations_cli = AppGroup("consultations", help="Stakeholder consultations: reminders.")


def reminders_round() -> int:
    """Queue due reminders and commit them once; the outbox then delivers them."""
    with committing():
        return send_due_reminders()


@worker_step("consultations", order=20)
def meeting_reminders_report() -> str | None:
    """The general worker's step: queue the reminders now due."""
    count = reminders_round()
    return f"queued {count} meeting reminder(s)" if count else None


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
    from portal.core.worker import run_loop
    from portal.notifications.cli import send_due_report

    def reminders() -> str | None:
        queued = reminders_round()
        return f"queued {queued} reminder(s)" if queued else None

    run_loop(
        "Consultations worker",
        [("reminders", reminders), ("mail", send_due_report)],
        interval=interval,
        once=once,
    )
