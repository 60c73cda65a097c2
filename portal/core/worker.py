"""Background work: one loop helper for every worker command, and the general worker.

`flask --app portal worker` runs, each round, everything that must happen without a user
waiting: queued review invitations and reminders, meeting reminders, staff summaries and
digests (notifications), search-index retries and the mail outbox (last, so mail queued by
the earlier steps goes out in the same round). The per-domain commands (`mail worker`,
`search worker`, `reviews run-jobs --loop`, `consultations worker`) run one step each with
the same loop.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import click
from flask import current_app

from portal.extensions import db

Step = Callable[[], str | None]  # returns a short report line, or None when there was nothing


def run_loop(name: str, steps: list[tuple[str, Step]], *, interval: float, once: bool) -> None:
    """Run ``steps`` every ``interval`` seconds until Ctrl-C or SIGTERM.

    A failing step is logged and the loop goes on (the database or SMTP server may be briefly
    away); with ``once`` the failure propagates so scripts and tests see it.
    """

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    # Service managers stop workers with SIGTERM: treat it like Ctrl-C.
    try:
        previous = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous = None
    try:
        while True:
            for label, step in steps:
                try:
                    report = step()
                except Exception as exc:
                    db.session.rollback()
                    if once:
                        raise
                    current_app.logger.exception("%s: %s failed", name, label)
                    click.echo(f"{label}: failed: {exc}", err=True)
                    report = None
                if report:
                    click.echo(f"{label}: {report}")
            if once:
                break
            db.session.remove()  # a fresh session per round: no stale identity map
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo(f"{name} stopped.")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def general_steps() -> list[tuple[str, Step]]:
    from portal.consultations.cli import reminders_round
    from portal.notifications.cli import notifications_round_report, send_due_report
    from portal.reviews.cli import jobs_round_report
    from portal.search.cli import sync_round_report

    def meeting_reminders() -> str | None:
        count = reminders_round()
        return f"queued {count} meeting reminder(s)" if count else None

    return [
        ("reviews", jobs_round_report),
        ("consultations", meeting_reminders),
        ("notifications", notifications_round_report),
        ("search", sync_round_report),
        ("mail", send_due_report),
    ]


@click.command("worker")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and exit.")
def worker_command(interval: float, once: bool) -> None:
    """Run all background work: review invitations, reminders, search sync, mail."""
    click.echo(f"Worker: every {interval:g}s (Ctrl-C stops).")
    run_loop("Worker", general_steps(), interval=interval, once=once)
