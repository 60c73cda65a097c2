"""``flask --app portal opendata …``: build the public open-data files now; the worker's step
that rebuilds them after a catalogue change (portal/opendata/prebuild.py)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.core.worker import worker_step
from portal.opendata.prebuild import build_public_files, run_due_rebuild

opendata_cli = AppGroup("opendata", help="Open data: the public files under /open-data/.")


@worker_step("open data", order=50)
def rebuild_step() -> str | None:
    return run_due_rebuild()


@opendata_cli.command("prebuild")
def prebuild_command() -> None:
    """Build every public file under /open-data/ for the current catalogue, at BASE_URL, into
    the export cache (for cron, or after an import); files already current are kept."""
    from portal.opendata.views import PUBLIC_FILES

    with click.progressbar(
        length=len(PUBLIC_FILES),
        label="Building open-data files",
        item_show_func=lambda name: name or "",
    ) as bar:
        done = build_public_files(
            progress=lambda name: bar.update(0, name), after_each=lambda _b: bar.update(1)
        )
    for built in done:
        if built.state == "hit":
            click.echo(f"{built.url}: already current")
        else:
            click.echo(f"{built.url}: built in {built.seconds:.1f} s ({built.bytes / 1e6:.2f} MB)")
