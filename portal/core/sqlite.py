"""SQLite needs foreign keys switched on per connection, and WAL for concurrent readers."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine


def enable_sqlite_pragmas(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return

    @event.listens_for(Engine, "connect")
    def _set_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
        module = type(dbapi_connection).__module__
        if not module.startswith("sqlite3"):
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        # WAL lets readers (page views, the search rebuild's loader) proceed while a writer
        # holds its transaction; in-memory databases ignore it.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
