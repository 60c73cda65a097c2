"""Settings, read from ``PORTAL_*`` environment variables.

One class per environment; ``create_app`` picks one by name (``PORTAL_ENV``) or takes an
object/dict of overrides (tests).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", Path.cwd() / "instance")).resolve()


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"PORTAL_{name}", default)


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _default_secret() -> str:
    """A stable per-instance secret for development, so sessions survive restarts.

    Production must set PORTAL_SECRET_KEY; this file is only a convenience for ``scripts/run``.
    """
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


class Config:
    SECRET_KEY = _env("SECRET_KEY") or None  # filled lazily in create_app
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # Where uploaded agreement documents live: outside static/, served only after a check.
    UPLOAD_DIR = _env("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    # Shared storage for several nodes: s3://bucket/prefix?endpoint=https://…  (portal.storage;
    # empty = UPLOAD_DIR). Credentials separately, never in the URL.
    STORAGE_URL = _env("STORAGE_URL", "")
    STORAGE_ACCESS_KEY_ID = _env("STORAGE_ACCESS_KEY_ID") or None
    STORAGE_SECRET_ACCESS_KEY = _env("STORAGE_SECRET_ACCESS_KEY") or None
    # The request cap, above every form's own limit (documents 15 MB, drafts and imports
    # 10 MB), so that an oversized file reaches its form and gets the error beside the field.
    MAX_CONTENT_LENGTH = int(_env("MAX_UPLOAD_MB", "64")) * 1024 * 1024
    # One agreement document; below the request limit so the form can say so beside the field.
    MAX_DOCUMENT_BYTES = int(_env("MAX_DOCUMENT_MB", "15")) * 1024 * 1024
    ALLOWED_DOCUMENT_EXTENSIONS = {
        "pdf",
        "docx",
        "xlsx",
        "odt",
        "ods",
        "txt",
        "csv",
        "md",
        "png",
        "jpg",
        "jpeg",
    }
    SEARCH_URL = _env("SEARCH_URL", "database")
    # Index names start with this: several portals (or test runs) can share one cluster.
    SEARCH_INDEX_PREFIX = _env("SEARCH_INDEX_PREFIX", "portal")
    # How long a worker's claim on queued items lasts before another worker may take them (a
    # worker that died mid-batch). Empty: each queue's own (5 minutes). Long jobs renew it.
    QUEUE_LEASE_SECONDS = int(_env("QUEUE_LEASE_SECONDS") or 0) or None
    SMTP_URL = _env("SMTP_URL", "smtp://127.0.0.1:1025")  # scripts/run: MailDev
    MAIL_FROM = _env("MAIL_FROM", "Partnership Portal <no-reply@portal.localhost>")
    BASE_URL = _env("BASE_URL", "http://127.0.0.1:5000")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ["en", "fr", "es", "ru", "zh", "ar"]
    PASSWORD_RESET_MAX_AGE = int(_env("PASSWORD_RESET_MAX_AGE", str(60 * 60)))
    PASSWORD_RESET_RATE_LIMIT = _env("PASSWORD_RESET_RATE_LIMIT", "5 per minute;20 per hour")
    INVITATION_MAX_AGE = int(_env("INVITATION_MAX_AGE", str(7 * 24 * 60 * 60)))
    # Per-account lock after repeated failures, on top of the per-address rate limit.
    LOGIN_ACCOUNT_MAX_FAILURES = int(_env("LOGIN_ACCOUNT_MAX_FAILURES", "10"))
    LOGIN_ACCOUNT_LOCK_SECONDS = int(_env("LOGIN_ACCOUNT_LOCK_SECONDS", "900"))
    # Mail queued by a request is sent right after the response, bounded; the worker does the rest.
    MAIL_SEND_AFTER_REQUEST = _env_bool("MAIL_SEND_AFTER_REQUEST", True)
    MAIL_SEND_LIMIT = int(_env("MAIL_SEND_LIMIT", "20"))
    MAIL_SEND_SECONDS = float(_env("MAIL_SEND_SECONDS", "5"))
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # memory:// counts per process; several web workers or nodes share counts through Redis
    # (redis://host:6379/0). Should Redis go away, each process counts on its own meanwhile
    # (the fallback) rather than failing logins; /readyz reports it.
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "portal")
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # Operations (docs/deployment.md): "json" logs one object per line with the request id.
    LOG_FORMAT = _env("LOG_FORMAT", "text")
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    # /metrics answers loopback only, or anyone sending "Authorization: Bearer <token>".
    METRICS_TOKEN = _env("METRICS_TOKEN") or None
    # How many reverse proxies (nginx) stand in front: their X-Forwarded-For/-Proto are trusted.
    TRUSTED_PROXIES = int(_env("TRUSTED_PROXIES", "0"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = _env_bool("SECURE_COOKIES", False)
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # tie CSRF tokens to the session, not a clock
    # Security headers (portal/core/security.py). Report-only is for trying a stricter policy.
    CSP_REPORT_ONLY = _env_bool("CSP_REPORT_ONLY", False)
    HSTS_ENABLED = _env_bool("HSTS", False)
    # Spreadsheet imports: refused before parsing when beyond these (a zip bomb is a few KB).
    IMPORT_MAX_UNPACKED_BYTES = int(_env("IMPORT_MAX_UNPACKED_MB", "20")) * 1024 * 1024
    IMPORT_MAX_ROWS = int(_env("IMPORT_MAX_ROWS", "10000"))
    IMPORT_MAX_COLUMNS = int(_env("IMPORT_MAX_COLUMNS", "100"))
    IMPORT_MAX_CELL_CHARS = int(_env("IMPORT_MAX_CELL_CHARS", "10000"))
    PER_PAGE = 25
    # Open data (/open-data/, docs/open-data.md): the licence every download carries, and the
    # organisation that publishes the IATI files (its IATI organisation identifier and type).
    OPEN_DATA_LICENCE = _env("OPEN_DATA_LICENCE", "CC-BY-4.0")  # an SPDX identifier
    OPEN_DATA_LICENCE_TITLE = _env("OPEN_DATA_LICENCE_TITLE", "Creative Commons Attribution 4.0")
    OPEN_DATA_LICENCE_URL = _env(
        "OPEN_DATA_LICENCE_URL", "https://creativecommons.org/licenses/by/4.0/"
    )
    IATI_PUBLISHER_REF = _env("IATI_PUBLISHER_REF", "XM-DAC-41120")
    IATI_PUBLISHER_NAME = _env("IATI_PUBLISHER_NAME", "UN-Habitat")
    IATI_PUBLISHER_TYPE = _env("IATI_PUBLISHER_TYPE", "40")  # IATI OrganisationType
    # IATI xml:lang of catalogue text whose script does not say otherwise (Latin: en, fr, es).
    IATI_DEFAULT_LANGUAGE = _env("IATI_DEFAULT_LANGUAGE", "en")
    # Rows fetched per query while streaming a file: memory stays flat whatever the catalogue size.
    OPEN_DATA_BATCH_SIZE = int(_env("OPEN_DATA_BATCH_SIZE", "500"))
    # Per client, across every /open-data/ file: each one is the whole catalogue.
    OPEN_DATA_RATE_LIMIT = _env("OPEN_DATA_RATE_LIMIT", "30 per minute;300 per hour")
    # Built export files, kept until the catalogue changes (portal/opendata/cache.py): where
    # (empty = <instance>/open-data-cache, one per node) and how many MB at most.
    OPEN_DATA_CACHE_DIR = _env("OPEN_DATA_CACHE_DIR", "")
    OPEN_DATA_CACHE_MB = int(_env("OPEN_DATA_CACHE_MB", "1024"))
    # Public files rebuilt by the worker after a catalogue change, the previous file sent
    # meanwhile (docs/open-data.md, "After a change"): due this many seconds after the first
    # change (later changes join it); the previous file is sent for at most STALE_MAX seconds.
    OPEN_DATA_PREBUILD = _env_bool("OPEN_DATA_PREBUILD", True)
    OPEN_DATA_PREBUILD_DELAY = float(_env("OPEN_DATA_PREBUILD_DELAY", "60"))
    OPEN_DATA_STALE_MAX_SECONDS = float(_env("OPEN_DATA_STALE_MAX_SECONDS", "900"))
    TESTING = False
    DEBUG = False


class DevelopmentConfig(Config):
    DEBUG = False


class ProductionConfig(Config):
    HSTS_ENABLED = _env_bool("HSTS", True)
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    REMEMBER_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 - tests only
    SQLALCHEMY_DATABASE_URI = os.environ.get("PORTAL_TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = True
    SEARCH_URL = os.environ.get("PORTAL_TEST_SEARCH_URL", "database")
    # A test that changes the catalogue expects the next download to show it; the tests of
    # the background rebuild switch it on (tests/test_open_data_prebuild.py).
    OPEN_DATA_PREBUILD = False


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_for(name: str | None) -> type[Config]:
    return CONFIGS.get((name or _env("ENV") or "development").lower(), DevelopmentConfig)
