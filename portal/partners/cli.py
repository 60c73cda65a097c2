"""Reference data commands: ``flask --app portal reference load``."""

import click
from flask.cli import AppGroup

from portal.core.transaction import committing
from portal.extensions import db
from portal.partners.reference import load_reference_data

reference_cli = AppGroup("reference", help="UN M49 regions and ISO 3166 countries.")


@reference_cli.command("load")
def load_command() -> None:
    """Insert or refresh regions and countries (idempotent, offline)."""
    with committing():
        regions, countries = load_reference_data(db.session)
    click.echo(f"Reference data ready: {regions} regions and {countries} countries added.")
