"""``flask --app portal reviews …``: run the invitation jobs and deadline reminders."""

from __future__ import annotations

import signal
import time

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.reviews.jobs import BATCH_SIZE, run_pending_jobs, send_reminders

reviews_cli = AppGroup("reviews", help="Review rounds: invitation jobs and reminders.")


def _one_round(batch: int) -> tuple[int, int]:
    ran = run_pending_jobs(batch_size=batch)
    reminded = send_reminders(batch_size=batch)
    return ran, reminded


@reviews_cli.command("run-jobs")
@click.option("--batch", default=BATCH_SIZE, show_default=True, help="Invitations per transaction.")
@click.option("--loop", is_flag=True, help="Keep running (a worker); Ctrl-C or SIGTERM stops it.")
@click.option(
    "--interval", default=10.0, show_default=True, help="Seconds between rounds with --loop."
)
def run_jobs_command(batch, loop, interval):
    """Send queued round invitations and due reminders (mail goes out through the mail worker)."""

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread
        previous = None
    try:
        while True:
            try:
                ran, reminded = _one_round(batch)
            except Exception as exc:  # the database may be briefly away; keep a worker alive
                db.session.rollback()
                if not loop:
                    raise
                click.echo(f"Round failed: {exc}", err=True)
                ran = reminded = 0
            if ran or reminded or not loop:
                click.echo(f"Jobs run: {ran}; reminders queued: {reminded}.")
            db.session.remove()
            if not loop:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Reviews worker stopped.")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
