"""Migrations and models agree, and the schema goes up and down cleanly on this test run's DB
engine (SQLite, or PostgreSQL when PORTAL_TEST_DATABASE_URL points at it)."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
from portal.search.registry import is_search_index_table


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new, empty database of the same kind as the suite's."""
    base = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(base)
    name = f"portal_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_matches_models_and_downgrade_to_base(empty_database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_name": lambda name, type_, _parents: (
                        not (type_ == "table" and is_search_index_table(name or ""))
                    ),
                },
            )
            diff = compare_metadata(context, db.metadata)
            # Search backends create their own index tables at run time; they are not models.
            assert diff == [], f"models and migrations differ: {diff}"
            countries = conn.execute(text("select count(*) from countries")).scalar_one()
            regions = conn.execute(text("select count(*) from regions")).scalar_one()
        assert countries >= 249 and regions >= 30
        if db.engine.dialect.name == "sqlite":
            # The planner has statistics after an upgrade (SQLite keeps none until ANALYZE).
            with db.engine.connect() as conn:
                analysed = set(conn.execute(text("select tbl from sqlite_stat1")).scalars())
            assert {"countries", "regions"} <= analysed

        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()

        upgrade()  # and back up again: the downgrade left nothing behind that breaks it
        db.engine.dispose()
