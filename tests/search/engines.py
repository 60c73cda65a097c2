"""Connections to the real search engines for tests (never mocks; skipped only outside
scripts/test, see tests/backends.py).

Start them with ``scripts/services/elasticsearch.sh start`` and
``scripts/services/meilisearch.sh start``; point elsewhere with PORTAL_TEST_ES_URL,
PORTAL_TEST_MEILI_URL and PORTAL_TEST_MEILI_KEY. Each test class gets its own index prefix
and its indexes are deleted afterwards, so runs never see each other's documents (nor the
portal's own ``portal-docs`` / ``portal_docs`` indexes).
"""

from __future__ import annotations

import os
import uuid

import pytest
import requests

from portal.search.backends.elasticsearch import ElasticsearchBackend
from portal.search.backends.meilisearch import MeilisearchBackend
from tests.backends import missing_backend

ES_URL = os.environ.get("PORTAL_TEST_ES_URL", "http://127.0.0.1:9200")
MEILI_URL = os.environ.get("PORTAL_TEST_MEILI_URL", "http://127.0.0.1:7700")
MEILI_KEY = os.environ.get("PORTAL_TEST_MEILI_KEY", "portal-dev-master-key-0123456789")


def unique_prefix() -> str:
    # Lowercase letters, digits and "_" only: valid for ES index names and Meilisearch uids.
    return f"portal_test_{uuid.uuid4().hex[:10]}"


def require_engine(name: str, health_url: str, script: str, env_var: str, headers=None) -> None:
    """Skip — or, under scripts/test, fail — with the command that fixes it when an engine
    is not running."""
    try:
        response = requests.get(health_url, timeout=3, headers=headers or {})
        response.raise_for_status()
    except requests.RequestException as exc:
        missing_backend(
            f"{name} is not reachable at {health_url} ({type(exc).__name__}). "
            f"Start it with `{script} start` (see `{script} status`), "
            f"or set {env_var} to a running server."
        )


def require_elasticsearch() -> None:
    require_engine(
        "Elasticsearch",
        f"{ES_URL}/_cluster/health",
        "scripts/services/elasticsearch.sh",
        "PORTAL_TEST_ES_URL",
    )


def require_meilisearch() -> None:
    require_engine(
        "Meilisearch",
        f"{MEILI_URL}/health",
        "scripts/services/meilisearch.sh",
        "PORTAL_TEST_MEILI_URL",
    )


def drop_elasticsearch_indexes(backend: ElasticsearchBackend) -> None:
    # Explicit names (not a wildcard delete), found by pattern: the alias's index and any
    # index a failed rebuild left behind.
    found = backend.es.indices.get(index=f"{backend.alias}*", ignore_unavailable=True)
    if found:
        backend.es.indices.delete(index=",".join(found.keys()))


def drop_meilisearch_indexes(backend: MeilisearchBackend) -> None:
    for uid in (backend.uid, f"{backend.uid}_new"):
        task = backend.client.delete_index(uid)
        backend.client.wait_for_task(task.task_uid, interval_in_ms=10)


@pytest.fixture(scope="class")
def es_backend():
    """A ready Elasticsearch backend on a private index prefix, dropped after the class."""
    require_elasticsearch()
    backend = ElasticsearchBackend(url=ES_URL, index_prefix=unique_prefix())
    backend.ensure_ready()
    yield backend
    drop_elasticsearch_indexes(backend)


@pytest.fixture(scope="class")
def meili_backend():
    """A ready Meilisearch backend on a private index prefix, dropped after the class."""
    require_meilisearch()
    backend = MeilisearchBackend(url=MEILI_URL, api_key=MEILI_KEY, index_prefix=unique_prefix())
    backend.ensure_ready()
    yield backend
    drop_meilisearch_indexes(backend)


def emptied(backend):
    """Remove every document through the contract's own calls (faster than a rebuild)."""
    backend.delete(list(backend.ids()))
    return backend
