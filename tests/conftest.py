"""Shared fixtures: one app and schema per test run, tables emptied after each test.

The database comes from PORTAL_TEST_DATABASE_URL (scripts/test runs the suite once on SQLite,
once on PostgreSQL). Reference data (regions, countries) is loaded once and kept.
"""

from __future__ import annotations

import os
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

import portal.accounts.models as account_models
from portal import create_app
from portal.agreements import catalogue_index
from portal.extensions import db
from portal.partners.reference import load_reference_data

# Fast hashing in tests; production keeps argon2's defaults.
account_models._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

KEEP_TABLES = {"regions", "countries", "alembic_version", "catalogue_state"}
TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 - test accounts only


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if url:
        return url
    # A file, not :memory:, so the live server used by browser tests shares it.
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    upload_dir = tmp_path_factory.mktemp("uploads")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
            "UPLOAD_DIR": str(upload_dir),
            "OPEN_DATA_CACHE_DIR": str(tmp_path_factory.mktemp("open-data-cache")),
            "SERVER_NAME": None,
            "SMTP_URL": "smtp://127.0.0.1:1",  # nothing listens: tests that mail start a server
        }
    )
    _forget_user_between_requests(app)
    with app.app_context():
        db.drop_all()
        _drop_leftovers()
        db.create_all()
        load_reference_data(db.session)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _forget_user_between_requests(app) -> None:
    """Requests reuse the test's app context (see ``_app_context``), so Flask-Login's cached
    ``g._login_user`` would leak from one client's request into the next client's. Drop it
    when each request starts, so every request loads its user from its own session cookie."""
    from flask import g, request_started

    def _forget(sender, **extra):
        g.pop("_login_user", None)

    request_started.connect(_forget, app, weak=False)


def _drop_leftovers() -> None:
    """Search backends may create extra tables (FTS); start every run clean."""
    if db.engine.dialect.name == "sqlite":
        with db.engine.begin() as conn:
            names = [
                r[0]
                for r in conn.execute(text("select name from sqlite_master where type='table'"))
            ]
            for name in names:
                if not name.startswith("sqlite_") and re.fullmatch(r"[A-Za-z0-9_]+", name):
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _empty_tables()
    from portal.extensions import limiter

    limiter.reset()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                conn.execute(table.delete())
        # The catalogue was emptied behind the session's back: a new token, so no process
        # keeps the catalogue index of the last test's agreements.
        catalogue_index.bump(conn)
        if conn.dialect.name == "postgresql":
            # The PostgreSQL search backend keeps its documents in tables of its own
            # (search_documents, its word list), outside the models: empty them too, or a test
            # finds the search documents of an earlier test's deleted records.
            known = {t.name for t in db.metadata.sorted_tables} | set(KEEP_TABLES)
            extra = conn.execute(
                text(
                    "select table_name from information_schema.tables "
                    "where table_schema = current_schema() and table_type = 'BASE TABLE'"
                )
            ).scalars()
            for name in extra:
                # Only the app's own index: the contract and relevance suites build theirs once
                # per module (search_contract*, search_relevance*) and keep them on purpose.
                if name not in known and name in (
                    "search_documents",
                    "search_documents_words",
                    "search_documents_facts",
                ):
                    conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 - a catalogue name


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def login(client, email: str, password: str = TEST_PASSWORD):
    """Log in through the real form, as a person would."""
    return client.post(
        "/account/login", data={"email": email, "password": password}, follow_redirects=False
    )


@pytest.fixture
def factories():
    from tests import factories

    return factories
