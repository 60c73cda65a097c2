"""Login throttling counted across web nodes through Redis.

Each node is a separate process with its own app and limiter (as two gunicorn nodes are), so
nothing in memory is shared: only the rate-limit storage. With ``memory://`` every node counts
on its own — the control that shows the test can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def node(db_url: str, storage_uri: str, prefix: str, attempts: int) -> list[int]:
    """Run one node in its own process; returns the status code of each failed login."""
    args = [sys.executable, "-m", "tests.scale.login_node", db_url, storage_uri, prefix]
    out = subprocess.run(  # noqa: S603 - our own interpreter and module
        [*args, str(attempts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'nodes.db'}"


def test_two_nodes_share_the_login_throttle_through_redis(redis_url, db_url):
    prefix = f"test-{uuid.uuid4().hex}"  # parallel runs share the server, never the counts
    try:
        # The limit is 3 a minute per client address, counted across both nodes.
        assert node(db_url, redis_url, prefix, 2) == [200, 200]
        assert node(db_url, redis_url, prefix, 2) == [200, 429]
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"*/{prefix}/*"))
        assert keys, "the nodes wrote no rate-limit keys to Redis"
        client.delete(*keys)
        client.close()


def test_in_memory_limits_are_per_node(db_url):
    # The control: without shared storage the second node has its own, fresh count.
    prefix = f"test-{uuid.uuid4().hex}"
    assert node(db_url, "memory://", prefix, 2) == [200, 200]
    assert node(db_url, "memory://", prefix, 2) == [200, 200]


def test_logins_keep_working_and_throttled_per_node_while_redis_is_down(db_url):
    # Nothing listens on port 1: every node falls back to counting in its own memory.
    codes = node(db_url, "redis://127.0.0.1:1/0", "test-down", 4)
    assert codes == [200, 200, 200, 429]
