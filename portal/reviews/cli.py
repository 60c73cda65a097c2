"""``flask --app portal reviews …``: run the invitation jobs and deadline reminders."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.core.worker import worker_step
from portal.reviews.jobs import BATCH_SIZE, run_pending_jobs, send_reminders

reviews_cli = AppGroup("reviews", help="Review rounds: invitation jobs and reminders.")


def _one_round(batch: int) -> tuple[int, int]:
    ran = run_pending_jobs(batch_size=batch)
    reminded = send_reminders(batch_size=batch)
    return ran, reminded


@worker_step("reviews", order=10)
def jobs_round_report(batch: int = BATCH_SIZE) -> str | None:
    ran, reminded = _one_round(batch)
    return f"jobs run {ran}; reminders queued {reminded}" if ran or reminded else None


@reviews_cli.command("run-jobs")
@click.option("--batch", default=BATCH_SIZE, show_default=True, help="Invitations per transaction.")
@click.option("--loop", is_flag=True, help="Keep running (a worker); Ctrl-C or SIGTERM stops it.")
@click.option(
    "--interval", default=10.0, show_default=True, help="Seconds between rounds with --loop."
)
def run_jobs_command(batch, loop, interval):
    """Send queued round invitations and due reminders (mail goes out through the mail worker)."""
    from portal.core.worker import run_loop

    def step() -> str:
        ran, reminded = _one_round(batch)
        return f"Jobs run: {ran}; reminders queued: {reminded}."

    run_loop("Reviews worker", [("reviews", step)], interval=interval, once=not loop)
