"""The real Redis server for the scale-out tests (``scripts/services/redis.sh start``;
``PORTAL_TEST_REDIS_URL`` points elsewhere). Missing: skipped locally, a failure under
scripts/test (tests/backends.py)."""

from __future__ import annotations

import os

import pytest

from tests.backends import missing_backend

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6390/0")


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as err:
        missing_backend(
            f"Redis is not reachable at {REDIS_URL} ({type(err).__name__}). Start it with "
            "`scripts/services/redis.sh start`, or set PORTAL_TEST_REDIS_URL to a running server."
        )
    finally:
        client.close()
    return REDIS_URL
