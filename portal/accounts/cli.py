"""``flask --app portal users …``: create, list and deactivate accounts from the shell.

The operator at the shell is trusted (no web permission check); every change is still audited.
"""

from __future__ import annotations

import secrets
import sys
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.accounts import services
from portal.accounts.forms import MIN_PASSWORD_LENGTH
from portal.accounts.models import Role, User
from portal.core.transaction import committing
from portal.core.worker import worker_step
from portal.extensions import db

users_cli = AppGroup("users", help="Create, list and deactivate user accounts.")


@contextmanager
def _shell_request():
    """Services translate messages and build links, which need a request; give them one
    addressed to BASE_URL (there is no browser, so the locale is the default one)."""
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        yield


@users_cli.command("create")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option("--name", required=True, help="Full name.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.STAFF.value,
    show_default=True,
)
@click.option("--organization-id", type=int, default=None, help="Required for partner users.")
@click.option("--password", default=None, help="Prompted for (TTY) or generated if omitted.")
def create_user_command(email, name, role, organization_id, password):
    """Create a user with a password (no invitation e-mail)."""
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = secrets.token_urlsafe(15)
            generated = True
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    try:
        with committing(), _shell_request():
            user = services.create_user(
                None,
                name=name,
                email=email,
                role=role,
                organization_id=organization_id,
                password=password,
                invite=False,
            )
    except services.AccountError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"Created {user.email} ({user.role}), id {user.id}.")
    if generated:
        click.echo(f"Generated password: {password}")


@users_cli.command("list")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None)
@click.option("--inactive", is_flag=True, help="Only deactivated users.")
def list_users_command(role, inactive):
    """List users: id, e-mail, role, organisation, status."""
    stmt = select(User).order_by(User.email)
    if role:
        stmt = stmt.filter_by(role=role)
    if inactive:
        stmt = stmt.where(User.active.is_(False))
    users = db.session.scalars(stmt).all()
    for user in users:
        org = user.organization.name if user.organization else "-"
        status = "active" if user.active else "deactivated"
        click.echo(f"{user.id}\t{user.email}\t{user.role}\t{org}\t{status}")
    click.echo(f"{len(users)} user(s).")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user_command(email):
    """Deactivate the account with this e-mail address (its data stays)."""
    user = services.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}.")
    with committing(), _shell_request():
        services.set_user_active(None, user, False)
    click.echo(f"Deactivated {user.email}.")


@worker_step("sessions", order=95)
def expired_sessions_report() -> str | None:
    """The general worker's step: forget sessions past their expiry."""
    with committing():
        count = services.prune_expired_sessions()
    return f"removed {count} expired session(s)" if count else None
