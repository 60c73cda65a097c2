"""``flask search …``: index maintenance for operators (sync, rebuild, check, status, worker)."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.core.transaction import committing
from portal.core.worker import worker_step
from portal.extensions import db
from portal.search.models import SearchOutbox

search_cli = AppGroup("search", help="Maintain the search indexes.")


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


@search_cli.command("sync")
@click.option("--retries", default=3, show_default=True, help="Extra passes over rows that fail.")
@click.option("--due-only", is_flag=True, help="Skip rows still waiting out their backoff.")
def sync_command(retries: int, due_only: bool) -> None:
    """Apply every pending outbox row (dead letters included, unless --due-only); exit 1 if
    some still fail after the retries."""
    from portal.core import queue
    from portal.core.transaction import committing
    from portal.search.models import SEARCH_QUEUE
    from portal.search.outbox import apply_pending, pending_count

    console = _console()
    if not due_only:
        with committing():
            revived = queue.retry_dead(db.session, SEARCH_QUEUE)
        if revived:
            console.print(f"{revived} dead-lettered row(s) queued again.")
    applied, delay = 0, 1.0
    for attempt in range(retries + 1):
        report = apply_pending(current_app, due_only=due_only and attempt == 0)
        applied += report.applied
        if not report.failed:
            break
        console.print(f"[yellow]{report.failed} document(s) failed:[/] {report.errors[-1]}")
        if attempt < retries:
            time.sleep(delay)
            delay *= 2
    left = pending_count()
    console.print(f"Applied {applied} document(s); {left} outbox row(s) left.")
    if left and not due_only:
        sys.exit(1)


@worker_step("search", order=40)
def sync_round_report() -> str | None:
    """One pass over due outbox rows (each row's backoff respected)."""
    from portal.search.outbox import apply_pending

    report = apply_pending(current_app, due_only=True, limit=1000)
    if report.applied or report.failed:
        return f"applied {report.applied}, failed {report.failed}"
    return None


@search_cli.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Run one pass and stop.")
def worker_command(interval: float, once: bool) -> None:
    """Keep applying due outbox rows (respecting each row's backoff)."""
    from portal.core.worker import run_loop

    run_loop("Search worker", [("search", sync_round_report)], interval=interval, once=once)


def _targets():
    from portal.search.registry import index_targets

    return index_targets(current_app)


@search_cli.command("rebuild")
def rebuild_command() -> None:
    """Build fresh indexes from the database and swap them in atomically."""
    from portal.search.documents import all_docs, count_docs

    console = _console()
    # Outbox rows queued before the rebuild are covered by it: the rebuild reads the database
    # after them. They are dropped once every engine is rebuilt (else `search status` reports
    # changes pending that the index already holds).
    covered_up_to = db.session.scalar(select(func.max(SearchOutbox.id)))
    for backend in _targets():
        backend.ensure_ready()
        with Session(db.engine) as session:
            total = count_docs(session)
            started = time.monotonic()
            with Progress(
                TextColumn(f"[bold]{backend.name}[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            ) as progress:
                task = progress.add_task("rebuild", total=total)
                count = backend.rebuild(
                    all_docs(session), progress=lambda n, task=task: progress.advance(task, n)
                )
            elapsed = max(time.monotonic() - started, 1e-6)
        rate = count / elapsed
        console.print(
            f"{backend.name}: indexed {count} documents in {elapsed:.2f} s ({rate:,.0f} docs/s)"
        )
    if covered_up_to is not None:
        with committing():  # the rebuild covered these changes: the outbox forgets them
            db.session.execute(delete(SearchOutbox).where(SearchOutbox.id <= covered_up_to))


@search_cli.command("check")
@click.option("--show", default=50, show_default=True, help="How many differing ids to list.")
def check_command(show: int) -> None:
    """Compare database ids with index ids; exit 1 if any differ."""
    from portal.search.documents import all_doc_ids

    console = _console()
    with Session(db.engine) as session:
        expected = set(all_doc_ids(session))
    differences = outdated_total = 0
    for backend in _targets():
        indexed = set(backend.ids())
        missing = sorted(expected - indexed)
        extra = sorted(indexed - expected)
        differences += len(missing) + len(extra)
        console.print(
            f"{backend.name}: {len(expected)} in database, {len(indexed)} in index, "
            f"{len(missing)} missing, {len(extra)} extra"
        )
        for label, ids in (("missing", missing), ("extra", extra)):
            for doc_id in ids[:show]:
                console.print(f"  {label}: {doc_id}")
            if len(ids) > show:
                console.print(f"  … and {len(ids) - show} more {label}")
        outdated = backend.outdated_count()
        if outdated:
            outdated_total += outdated
            console.print(
                f"  {outdated} document(s) in the layout before snippet labels (their snippets"
                " end with English labels): run `flask search rebuild`"
            )
    if differences:
        console.print("Run `flask search sync` (pending changes) or `flask search rebuild`.")
    if differences or outdated_total:
        sys.exit(1)
    console.print("Index and database agree.")


@search_cli.command("status")
def status_command() -> None:
    """Backend, capabilities and outbox backlog."""
    console = _console()
    console.print(f"SEARCH_URL: {current_app.config.get('SEARCH_URL')}")
    for backend in _targets():
        caps = ", ".join(sorted(backend.capabilities)) or "none"
        try:
            backend.ensure_ready()
            size = str(sum(1 for _ in backend.ids()))
        except Exception as err:  # an operator wants to see the outage, not a traceback
            size = f"unreachable ({type(err).__name__}: {err})"
        console.print(f"{backend.name}: capabilities {caps}; documents {size}")
    from portal.core.queue import stats
    from portal.search.models import SEARCH_QUEUE

    figures = stats(db.session, SEARCH_QUEUE)
    pending = figures.depth + figures.dead
    console.print(
        f"outbox: {pending} pending, {figures.failing} failing, {figures.dead} dead, "
        f"oldest {figures.oldest or '—'}"
    )
