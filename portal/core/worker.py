"""Background work: one loop helper for every worker command, and the general worker.

`flask --app portal worker` runs, each round, everything that must happen without a user
waiting: queued review invitations and reminders, meeting reminders, search-index retries and
the mail outbox (last, so mail queued by the earlier steps goes out in the same round). The
per-domain commands (`mail worker`, `search worker`, `reviews run-jobs --loop`,
`consultations worker`) run one step each with the same loop.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import click
from flask import current_app

from portal.extensions import db

Step = Callable[[], str | None]  # returns a short report line, or None when there was nothing


class _LoopState:
    stopping = False  # SIGTERM received: finish the current step, then stop
    sleeping = False  # between rounds: nothing to finish, stop at once


_state = _LoopState()


def stop_requested() -> bool:
    """True once the running worker got SIGTERM; long steps check it between batches."""
    return _state.stopping


def run_loop(name: str, steps: list[tuple[str, Step]], *, interval: float, once: bool) -> None:
    """Run ``steps`` every ``interval`` seconds until Ctrl-C or SIGTERM.

    SIGTERM (how systemd and other service managers stop a worker) is graceful: the step in
    progress finishes its current batch (``stop_requested``) and the loop ends; between rounds
    it ends at once. A second SIGTERM, or Ctrl-C, interrupts at once: the open transaction
    rolls back, which releases its claims (search rows are locked, not leased), so nothing is
    lost. A failing step is logged and the loop goes on (the database or SMTP server may be
    briefly away); with ``once`` the failure propagates so scripts and tests see it.
    """

    def _on_sigterm(_signum, _frame):
        if _state.stopping or _state.sleeping:
            raise KeyboardInterrupt
        _state.stopping = True

    _state.stopping = _state.sleeping = False
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous = None
    try:
        while not _state.stopping:
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
                if _state.stopping:
                    break
            if once or _state.stopping:
                break
            db.session.remove()  # a fresh session per round: no stale identity map
            _state.sleeping = True
            try:
                if not _state.stopping:
                    time.sleep(interval)
            finally:
                _state.sleeping = False
        if _state.stopping:
            click.echo(f"{name} stopped (SIGTERM) after finishing its current batch.")
    except KeyboardInterrupt:
        click.echo(f"{name} stopped.")
    finally:
        _state.stopping = _state.sleeping = False
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def general_steps() -> list[tuple[str, Step]]:
    from portal.consultations.cli import reminders_round
    from portal.notifications.cli import send_due_report
    from portal.reviews.cli import jobs_round_report
    from portal.search.cli import sync_round_report

    def meeting_reminders() -> str | None:
        count = reminders_round()
        return f"queued {count} meeting reminder(s)" if count else None

    def expired_sessions() -> str | None:
        from portal.accounts.services import prune_expired_sessions

        count = prune_expired_sessions()
        db.session.commit()
        return f"removed {count} expired session(s)" if count else None

    return [
        ("reviews", jobs_round_report),
        ("consultations", meeting_reminders),
        ("search", sync_round_report),
        ("mail", send_due_report),
        ("sessions", expired_sessions),
    ]


@click.command("worker")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and exit.")
def worker_command(interval: float, once: bool) -> None:
    """Run all background work: review invitations, reminders, search sync, mail."""
    click.echo(f"Worker: every {interval:g}s (Ctrl-C stops).")
    run_loop("Worker", general_steps(), interval=interval, once=once)
