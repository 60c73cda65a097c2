"""HTTP hardening in one place: safe redirect targets, security headers with a per-request CSP
nonce, ``Cache-Control`` for anything that is not public, and a production secret check.

Our own small after-request hook rather than Flask-Talisman: the portal needs per-response
choices that Talisman does not model (``no-referrer`` only on pages whose URL carries a token,
``no-store`` decided by who is asking, a report-only switch for the browser crawl test), and
every one of these headers is a single line we test over every route. docs/security.md says
more.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, session
from flask_login import current_user

# Sources: only this site. Scripts and styles also need the request's nonce, so even an
# injected <script> that found its way past escaping would not run. No 'unsafe-inline'.
CSP_TEMPLATE = (
    "default-src 'self'; "
    "script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; "
    "font-src 'self'; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), browsing-topics=()"
)

HSTS = "max-age=31536000; includeSubDomains"

# A secret shorter than this is guessable offline from any signed cookie.
MIN_SECRET_KEY_LENGTH = 32


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    Browsers treat tabs, newlines and backslashes inside a URL as ignorable or as ``/``, so
    ``/%09/evil.com`` becomes ``//evil.com``: any control character or backslash is refused,
    as are ``//`` and anything with a scheme or host. Every redirect to a user-supplied
    address goes through here.
    """
    if not target or not isinstance(target, str) or len(target) > 2000:
        return None
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# Kept on the request, not on ``g``: ``g`` belongs to the app context, which a test client (or
# a sub-request) may share between requests, and a nonce must never be reused.
_NONCE = "portal.csp_nonce"
_NO_REFERRER = "portal.no_referrer"
_PRIVATE = "portal.private"


def plain_query_args(*exclude: str) -> dict[str, str]:
    """The query arguments, safe to pass on as ``url_for(endpoint, **args)``: without the
    names ``url_for`` reads as options (``_external``, ``_scheme``, ``_anchor`` …), which
    would otherwise let a crafted link turn a form's action into another scheme or host."""
    return {k: v for k, v in request.args.items() if not k.startswith("_") and k not in exclude}


def csp_nonce() -> str:
    """This request's nonce, for ``<script nonce>`` and ``<style nonce>`` in templates."""
    nonce = request.environ.get(_NONCE)
    if nonce is None:
        nonce = request.environ[_NONCE] = secrets.token_urlsafe(16)
    return nonce


def mark_no_referrer() -> None:
    """For pages whose URL holds a secret (password reset, invitation): the URL must not leak
    to another site through ``Referer``."""
    request.environ[_NO_REFERRER] = True


def mark_private() -> None:
    """For responses a shared cache must not keep even when nobody is logged in (a personal
    calendar feed reached by its secret link)."""
    request.environ[_PRIVATE] = True


def _is_private() -> bool:
    if request.environ.get(_PRIVATE):
        return True
    if current_user and current_user.is_authenticated:
        return True
    # A response that sets or changes the session cookie belongs to one browser.
    return bool(session.modified)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    policy = CSP_TEMPLATE.format(nonce=csp_nonce())
    if current_app.config.get("CSP_REPORT_ONLY"):
        headers.setdefault("Content-Security-Policy-Report-Only", policy)
    else:
        headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault(
        "Referrer-Policy",
        "no-referrer" if request.environ.get(_NO_REFERRER) else "strict-origin-when-cross-origin",
    )
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("HSTS_ENABLED"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint == "static":
        return response
    if _is_private():
        # Whatever the view said (``private, max-age`` on a download…), a personal response
        # is never stored: not by a proxy, not in the browser's disk cache.
        if "no-store" not in headers.get("Cache-Control", ""):
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
        headers.setdefault("Vary", "Cookie")
        if "Cookie" not in headers["Vary"]:
            headers["Vary"] = headers["Vary"] + ", Cookie"
    return response


def check_secret_key(app: Flask) -> None:
    """Production refuses to start with no secret, or with one short enough to guess."""
    key = app.config.get("SECRET_KEY") or ""
    if not key:
        raise RuntimeError(
            "PORTAL_SECRET_KEY is not set. In production the portal will not invent one: "
            "set it to a long random value (python -c 'import secrets; "
            "print(secrets.token_hex(32))') and keep it the same across restarts and workers."
        )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"PORTAL_SECRET_KEY is too short ({len(key)} characters); use at least "
            f"{MIN_SECRET_KEY_LENGTH} random characters."
        )


def init_security(app: Flask) -> None:
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["plain_query_args"] = plain_query_args


# Served with their own type; anything else is sent as application/octet-stream so a browser
# never renders an uploaded HTML/SVG/script file in the portal's origin.
SAFE_DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "text/csv",
        "text/plain",
        "image/png",
        "image/jpeg",
    }
)


def safe_document_type(content_type: str | None) -> str:
    """The type an uploaded document is served with (agreement, agenda and IATI links)."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return base if base in SAFE_DOCUMENT_TYPES else "application/octet-stream"
