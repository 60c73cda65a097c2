"""The real S3-compatible server (SeaweedFS, ``scripts/services/s3.sh start``) for the storage
tests. Each test run gets its own bucket, emptied and removed at the end, so runs on SQLite and
PostgreSQL (or two people) never see each other's files. Missing server: skipped locally, a
failure under scripts/test (tests/backends.py)."""

from __future__ import annotations

import os
import uuid

import pytest

from portal.storage import LocalStorage, S3Storage, storage_from_url
from tests.backends import missing_backend

S3_URL = os.environ.get(
    "PORTAL_TEST_S3_URL", "s3://portal?endpoint=http://127.0.0.1:8342&region=us-east-1"
)
S3_KEY = os.environ.get("PORTAL_TEST_S3_ACCESS_KEY_ID", "portal-test")
S3_SECRET = os.environ.get("PORTAL_TEST_S3_SECRET_ACCESS_KEY", "portal-test-secret-key")


def _test_bucket_url() -> tuple[str, str]:
    bucket = f"portal-test-{uuid.uuid4().hex[:12]}"
    base = storage_from_url(S3_URL)
    query = f"endpoint={base.endpoint}&region={base.region}"
    return bucket, f"s3://{bucket}?{query}"


@pytest.fixture(scope="session")
def s3_bucket_url():
    """``s3://<a fresh bucket>?endpoint=…`` on the real server; removed after the run."""
    bucket, url = _test_bucket_url()
    storage = storage_from_url(url, access_key_id=S3_KEY, secret_access_key=S3_SECRET)
    client = storage.client()
    try:
        storage.client("check").create_bucket(Bucket=bucket)
    except Exception as err:  # noqa: BLE001 - any failure means: no usable server
        missing_backend(
            f"no S3-compatible server at {storage.endpoint} ({type(err).__name__}). Start it "
            "with `scripts/services/s3.sh start`, or set PORTAL_TEST_S3_URL and its keys."
        )
    yield url
    # Every test wrote under a prefix of its own: remove every key, then the bucket.
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_storage(s3_bucket_url) -> S3Storage:
    """A storage in the run's bucket under a prefix of its own: every test starts empty."""
    url = s3_bucket_url.replace("?", f"/t{uuid.uuid4().hex[:10]}?", 1)
    return storage_from_url(url, access_key_id=S3_KEY, secret_access_key=S3_SECRET)


@pytest.fixture(params=["local", "s3"])
def any_storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return request.getfixturevalue("s3_storage")


@pytest.fixture
def app_on_s3(app, s3_storage):
    """The test app keeps its documents in S3 for this test."""
    key = "portal.storage"
    before = app.extensions.get(key)
    app.extensions[key] = s3_storage
    yield s3_storage
    if before is None:
        app.extensions.pop(key, None)
    else:
        app.extensions[key] = before
