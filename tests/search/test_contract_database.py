"""The search contract on the database backend of the database the suite runs on (SQLite FTS5
or PostgreSQL tsvector + pg_trgm; scripts/test runs the suite on both)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.search.registry import database_backend
from tests.search.contract import SearchContract, search


class TestDatabaseBackend(SearchContract):
    @pytest.fixture
    def backend(self, app):
        # Its own tables, so these tests never touch the portal's live index.
        backend = database_backend(db.engine, table="search_contract")
        backend.ensure_ready()
        backend.clear()
        yield backend
        backend.clear()

    def write_old_layout(self, backend, doc_id: str) -> None:
        table = f"{backend.table}_docs" if db.engine.dialect.name == "sqlite" else backend.table
        with backend.engine.begin() as conn:
            conn.execute(
                text(f"UPDATE {table} SET labels = NULL WHERE doc_id = :id"),  # noqa: S608
                {"id": doc_id},
            )

    def test_backend_matches_the_database(self, backend):
        expected = {"sqlite": "sqlite-fts5", "postgresql": "postgresql"}[db.engine.dialect.name]
        assert backend.name == expected

    def test_short_chinese_queries_still_respect_permissions(self, backend):
        from tests.search.contract import make_doc

        backend.upsert(
            [
                make_doc("agreement:1", "伙伴 public"),
                make_doc("agreement:2", "伙伴 internal", principals=["staff"]),
            ]
        )
        results = search(backend, "伙伴")
        assert [h.id for h in results.hits] == ["agreement:1"]
        assert results.facets["kind"] == {"agreement": 1}
