"""``flask --app portal seed-demo [--force]``: load the demo data set (portal/demo/seed.py).

Deterministic and idempotent: on a database that already has partners or agreements it says so
and changes nothing; ``--force`` adds only the demo records that are missing.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portal.core.sqlite import refresh_statistics
from portal.demo.engagement import MEMBER_LOGINS, load_engagement
from portal.demo.seed import (
    DEMO_PASSWORD,
    DEMO_USERS,
    build_demo_set,
    country_region_codes,
    has_data,
    load_demo,
)
from portal.extensions import db
from portal.partners.reference import load_reference_data


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Add the missing demo records even if data exists.")
def seed_demo_command(force: bool) -> None:
    """Load the demo data set: real actors of HSP/EB.2022/8, 300+ partners, 1,000+ agreements,
    advisory-group meetings and draft reviews."""
    console = Console(highlight=False)
    orgs, agreements = has_data()
    if (orgs or agreements) and not force:
        console.print(
            f"The database already has {orgs} organisations and {agreements} agreements; nothing "
            "was changed. Use --force to add the demo records that are missing."
        )
        return
    # Migrations load the reference data; loading it again is a cheap no-op if they did.
    load_reference_data(db.session)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task("Building the demo data set", total=5)
        demo = build_demo_set(country_region_codes())
        progress.update(task, advance=1, description="Writing organisations and agreements")

        def advance(label: str, _count: int) -> None:
            progress.update(task, advance=1, description=f"Wrote {label}")

        report = load_demo(demo, advance)
        # Advisory groups, meetings, minutes and draft reviews (portal/demo/engagement.py).
        engagement = load_engagement()
        report.engagement = engagement.total
        progress.update(task, advance=1, description="Wrote consultations and reviews")
        db.session.commit()
        refresh_statistics(db.session)
        db.session.commit()
    if report.total == 0:
        console.print("All demo records are already present; nothing was added.")
    else:
        console.print(
            f"Added {report.organizations} organisations, {report.agreements} agreements and "
            f"{report.users} users; consultations and reviews: {engagement.summary()}. Run "
            "`flask --app portal search sync` if the search index has not caught up yet."
        )
    table = Table(title=f"Demo users (password: {DEMO_PASSWORD})")
    table.add_column("E-mail")
    table.add_column("Role")
    for email, _name, role, org in DEMO_USERS:
        table.add_row(email, role.value + (f" — {org[0]}" if org else ""))
    table.add_row(*MEMBER_LOGINS)
    console.print(table)
