"""The ``/api/v1`` blueprint. Resource modules add their routes to ``bp``.

Authentication is the session cookie or ``Authorization: Bearer <token>`` (see
``portal.accounts.auth``); every endpoint applies the same permission rules as the pages.
Errors are JSON (``portal.core.errors``). The one POST endpoint (a review comment) accepts a
bearer token only, never the cookie, and is exempt from CSRF for that reason.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import reviews, search  # noqa: E402,F401  (register their routes on bp)
