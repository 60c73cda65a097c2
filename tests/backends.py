"""What a test does when a real backend (search engine, browser) is missing.

On a developer machine a plain ``pytest`` skips the suites whose server is not running, with
one reason that says how to start it. ``scripts/test`` (and so CI) sets
``PORTAL_TEST_REQUIRE_BACKENDS=1``: there a missing backend is a failure, so a green run
always proves every engine and the browser.
"""

from __future__ import annotations

import os

import pytest

REQUIRED = os.environ.get("PORTAL_TEST_REQUIRE_BACKENDS", "").lower() in {"1", "true", "yes"}


def missing_backend(message: str) -> None:
    if REQUIRED:
        pytest.fail(message, pytrace=False)
    pytest.skip(f"backend not running (scripts/test starts every backend): {message}")
