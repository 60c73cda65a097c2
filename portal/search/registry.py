"""Which search backend the portal talks to, from one setting (``PORTAL_SEARCH_URL``).

- ``database``                              SQLite FTS5 on SQLite, facts rows + GIN on PostgreSQL
- ``elasticsearch+http://host:9200``        Elasticsearch
- ``meilisearch+http://host:7700?key=...``  Meilisearch (key also from ``PORTAL_MEILI_KEY``)

``SEARCH_INDEX_PREFIX`` (default ``portal``) names the engine's indexes, so test runs and
several portals can share one engine. Backends are created once per app and setting.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit, urlunsplit

from flask import Flask, current_app

from portal.search.base import SearchBackend

_EXTENSION_KEY = "portal_search_backends"


def _cache(app: Flask) -> dict:
    return app.extensions.setdefault(_EXTENSION_KEY, {})


def _engine(app: Flask):
    from portal.extensions import db

    with app.app_context():
        return db.engine


def database_backend_for(app: Flask | None = None) -> SearchBackend:
    """The database backend: the default, and the fallback when an engine is down."""
    app = app or current_app._get_current_object()
    cache = _cache(app)
    engine = _engine(app)
    key = ("database", str(engine.url))
    if key not in cache:
        cache[key] = database_backend(engine)
    return cache[key]


def database_backend(engine, table: str | None = None) -> SearchBackend:
    """SQLite FTS5 on SQLite, facts rows + term GIN on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        from portal.search.backends.sqlite_fts import SqliteFtsBackend

        return SqliteFtsBackend(engine, table=table or SqliteFtsBackend.default_table)
    if engine.dialect.name == "postgresql":
        from portal.search.backends.postgres import PostgresBackend

        return PostgresBackend(engine, table=table or PostgresBackend.default_table)
    raise ValueError(f"No database search backend for {engine.dialect.name}")


def get_backend(app: Flask | None = None) -> SearchBackend:
    app = app or current_app._get_current_object()
    url = (app.config.get("SEARCH_URL") or "database").strip()
    if url == "database":
        return database_backend_for(app)
    prefix = app.config.get("SEARCH_INDEX_PREFIX") or "portal"
    key = (url, prefix)
    cache = _cache(app)
    if key not in cache:
        cache[key] = _engine_backend(url, prefix)
    return cache[key]


def _engine_backend(url: str, prefix: str) -> SearchBackend:
    parts = urlsplit(url)
    scheme, _, transport = parts.scheme.partition("+")
    if not transport:
        raise ValueError(f"SEARCH_URL must look like 'elasticsearch+http://host:port', not {url!r}")
    query = parse_qs(parts.query)
    server = urlunsplit((transport, parts.netloc, parts.path, "", ""))
    if scheme == "elasticsearch":
        from portal.search.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(url=server, index_prefix=prefix)
    if scheme == "meilisearch":
        from portal.search.backends.meilisearch import MeilisearchBackend

        key = (query.get("key") or [None])[0] or os.environ.get("PORTAL_MEILI_KEY")
        return MeilisearchBackend(url=server, api_key=key, index_prefix=prefix)
    raise ValueError(f"Unknown search engine {scheme!r} in SEARCH_URL")


def is_database(backend: SearchBackend) -> bool:
    from portal.search.backends.postgres import PostgresBackend
    from portal.search.backends.sqlite_fts import SqliteFtsBackend

    return isinstance(backend, SqliteFtsBackend | PostgresBackend)


def index_targets(app: Flask | None = None) -> list[SearchBackend]:
    """Every index the outbox keeps current: the configured one and, when that is an external
    engine, the database index too — so the fallback shows today's data during an outage."""
    app = app or current_app._get_current_object()
    primary = get_backend(app)
    if is_database(primary):
        return [primary]
    return [primary, database_backend_for(app)]


# Tables the database backends create at run time (an index, not a schema): Alembic's env.py
# should skip them so autogenerate never proposes dropping them.
INDEX_TABLE_PREFIXES = ("search_index_", "search_contract", "search_documents")


def is_search_index_table(name: str) -> bool:
    return name.startswith(INDEX_TABLE_PREFIXES)
