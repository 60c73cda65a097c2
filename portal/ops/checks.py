"""Readiness checks: can this node serve? Each check answers "ok" or "failed" — never an
error text, which could carry a host name or a password from a URL. The reason is logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2.0


def check_database(app: Flask) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()


def check_search(app: Flask) -> None:
    from portal.search.registry import get_backend

    backend = get_backend(app)
    es = getattr(backend, "es", None)  # ElasticsearchBackend
    if es is not None:
        # Cluster health, not a ping: a red cluster answers but cannot serve every index.
        health = es.options(request_timeout=TIMEOUT_SECONDS).cluster.health()
        if health.get("status") not in ("green", "yellow"):
            raise ConnectionError(f"Elasticsearch cluster is {health.get('status')}")
        return
    client = getattr(backend, "client", None)  # MeilisearchBackend
    if client is not None:
        if client.health().get("status") != "available":
            raise ConnectionError("Meilisearch is not available")
        return
    raise TypeError(f"no readiness check for {type(backend).__name__}")


def check_redis(app: Flask) -> None:
    import redis

    client = redis.Redis.from_url(
        app.config["RATELIMIT_STORAGE_URI"],
        socket_connect_timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_storage(app: Flask) -> None:
    """The upload directory is writable, or the bucket answers (HEAD, 2-second timeouts)."""
    from portal.storage import storage_for

    storage_for(app).check()


def checks_for(app: Flask) -> dict[str, Callable[[Flask], None]]:
    """The checks this configuration needs: the database and the file storage always; the
    search engine when it is not the database; Redis when rate limits are kept there."""
    from portal.search.registry import get_backend, is_database

    checks: dict[str, Callable[[Flask], None]] = {
        "database": check_database,
        "storage": check_storage,
    }
    try:
        external = not is_database(get_backend(app))
    except Exception:  # the database index needs the database: reported by that check
        external = (app.config.get("SEARCH_URL") or "database") != "database"
    if external:
        checks["search"] = check_search
    if str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis://", "rediss://")):
        checks["redis"] = check_redis
    return checks


def run_checks(app: Flask) -> dict[str, str]:
    results = {}
    for name, check in checks_for(app).items():
        try:
            check(app)
        except Exception as err:
            log.warning("Readiness check %s failed: %s: %s", name, type(err).__name__, err)
            results[name] = "failed"
        else:
            results[name] = "ok"
    return results
