"""``flask --app portal import organizations|agreements FILE [--dry-run]``.

Validates the whole file first (progress bar over rows), prints every error as a table
(row, column, reason) and exits 1 if there is any; otherwise writes everything in one
transaction and prints the counts. ``--dry-run`` stops after validation and shows what would be
created or updated.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import AppGroup
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portal.core.sqlite import refresh_statistics
from portal.core.transaction import committing
from portal.extensions import db
from portal.imports.reading import ImportFileError, read_sheet
from portal.imports.services import ImportRun, execute_import, plan_import
from portal.imports.validation import AGREEMENTS, ORGANIZATIONS

import_cli = AppGroup("import", help="Bulk import of organisations and agreements (CSV or XLSX).")

# How many planned rows a dry run lists before summarising the rest.
DRY_RUN_LISTING = 100

_file_arg = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_dry_run = click.option(
    "--dry-run", is_flag=True, help="Validate and show what would change; write nothing."
)


@import_cli.command("organizations")
@_file_arg
@_dry_run
def import_organizations(file: Path, dry_run: bool) -> None:
    """Import organisations (upsert on name + country)."""
    _run({ORGANIZATIONS: file}, dry_run)


@import_cli.command("agreements")
@_file_arg
@_dry_run
@click.option(
    "--organizations",
    "organizations_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An organisations file imported in the same run, so parties may name its rows.",
)
def import_agreements(file: Path, dry_run: bool, organizations_file: Path | None) -> None:
    """Import agreements (upsert on reference); parties must name existing organisations."""
    files = {AGREEMENTS: file}
    if organizations_file is not None:
        files = {ORGANIZATIONS: organizations_file, **files}
    _run(files, dry_run)


def _console() -> Console:
    # Plain output when not on a terminal (tests, logs), with a width that fits the tables.
    return Console(highlight=False, soft_wrap=False, width=160)


@contextmanager
def _progress_bars(console: Console):
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:

        def factory(label: str, total: int):
            task = progress.add_task(label, total=max(total, 1))
            if total == 0:
                progress.update(task, completed=1)
            return lambda n=1: progress.advance(task, n)

        yield factory


def _run(files: dict[str, Path], dry_run: bool) -> None:
    console = _console()
    sheets = {}
    for kind, path in files.items():
        try:
            sheets[kind] = (path.name, read_sheet(path.read_bytes(), path.name))
        except ImportFileError as err:
            console.print(f"[red]Cannot read {path.name}:[/red] {err}")
            raise SystemExit(1) from err
    with _progress_bars(console) as factory:
        run = plan_import(sheets, progress=factory)
    if not run.is_valid:
        _print_errors(console, run)
        raise SystemExit(1)
    if dry_run:
        _print_plan(console, run)
        db.session.rollback()
        console.print("[bold]Dry run:[/bold] the file is valid; nothing was written.")
        return
    with committing(), _progress_bars(console) as factory:
        execute_import(run, progress=factory)
        refresh_statistics(db.session)  # a bulk load changes the planner's picture
    _print_summary(console, run, done=True)


def _print_errors(console: Console, run: ImportRun) -> None:
    for plan in run.plans:
        if plan.is_valid:
            continue
        table = Table(
            title=f"{plan.filename}: {len(plan.errors)} error(s) in {plan.error_rows()} row(s)"
        )
        table.add_column("Row", justify="right")
        table.add_column("Column")
        table.add_column("Reason", overflow="fold")
        for error in plan.errors:
            table.add_row(str(error.row), error.column, error.message)
        console.print(table)
    console.print("[red]Nothing was imported:[/red] fix the rows above and run the import again.")


def _print_plan(console: Console, run: ImportRun) -> None:
    for plan in run.plans:
        changing = [r for r in plan.rows if r.action != "unchanged"]
        if changing:
            table = Table(title=f"{plan.filename}: rows that would change")
            table.add_column("Row", justify="right")
            table.add_column("Action")
            table.add_column(plan.kind == ORGANIZATIONS and "Organisation" or "Reference")
            table.add_column("Changed fields", overflow="fold")
            for row in changing[:DRY_RUN_LISTING]:
                table.add_row(str(row.row), row.action, row.label, ", ".join(row.changed_fields))
            console.print(table)
            if len(changing) > DRY_RUN_LISTING:
                console.print(f"… and {len(changing) - DRY_RUN_LISTING} more rows.")
    _print_summary(console, run, done=False)


def _print_summary(console: Console, run: ImportRun, *, done: bool) -> None:
    for plan in run.plans:
        c = plan.counts
        if done:
            console.print(
                f"{plan.filename} ({plan.kind}): {c['create']} created, {c['update']} updated, "
                f"{c['unchanged']} unchanged."
            )
        else:
            console.print(
                f"{plan.filename} ({plan.kind}): would create {c['create']}, update {c['update']}, "
                f"leave {c['unchanged']} unchanged."
            )
