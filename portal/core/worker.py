"""Background work: one loop helper for every worker command, and the general worker.

`flask --app portal worker` runs, each round, everything that must happen without a user
waiting. Core knows no domain: each domain registers its steps with ``@worker_step(label,
order=…)`` next to the code that does the work (review invitations and reminders, meeting
reminders, staff summaries and digests, search-index retries, the mail outbox — last, so mail
queued by the earlier steps goes out in the same round — and expired sessions). The per-domain
commands (`mail worker`, `search worker`, `reviews run-jobs --loop`, `consultations worker`)
run one step each with the same loop.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

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
    progress finishes and records its current batch, hands back what it had not started
    (``stop_requested``; portal.core.queue) and the loop ends; between rounds it ends at once. A
    second SIGTERM, or Ctrl-C, interrupts at once: the open transaction rolls back, and the
    items this worker had claimed come back to every worker when their lease runs out, so
    nothing is lost. A failing step is logged and the loop goes on (the database or SMTP server
    may be briefly away); with ``once`` the failure propagates so scripts and tests see it.
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


@dataclass(frozen=True)
class _Registered:
    order: int
    label: str
    step: Step


_STEPS: dict[str, _Registered] = {}


def register_worker_step(label: str, step: Step, *, order: int) -> None:
    """Run ``step`` in every round of the general worker, sorted by ``order`` (then label).

    A step does one bounded batch of work, commits what it did (``committing()`` or the job
    queue) and returns a short report line, or None when there was nothing to do. Registering
    a label again replaces the step (a module imported twice registers once).
    """
    _STEPS[label] = _Registered(order, label, step)


def worker_step(label: str, *, order: int) -> Callable[[Step], Step]:
    """Decorator form of ``register_worker_step``; the function is returned unchanged."""

    def register(step: Step) -> Step:
        register_worker_step(label, step, order=order)
        return step

    return register


def general_steps() -> list[tuple[str, Step]]:
    """Every registered step, in order: what one round of ``flask worker`` runs."""
    return [(r.label, r.step) for r in sorted(_STEPS.values(), key=lambda r: (r.order, r.label))]


@click.command("worker")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and exit.")
def worker_command(interval: float, once: bool) -> None:
    """Run all background work: review invitations, reminders, search sync, mail."""
    click.echo(f"Worker: every {interval:g}s (Ctrl-C stops).")
    run_loop("Worker", general_steps(), interval=interval, once=once)
