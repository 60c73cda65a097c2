"""The ``/api/v1`` blueprint. Resource modules add their routes to ``bp``.

Authentication is the session cookie or ``Authorization: Bearer <token>`` (see
``portal.accounts.auth``); every endpoint applies the same permission rules as the pages.
Errors are JSON (``portal.core.errors``). Only GET endpoints exist, so CSRF never applies; a
future POST endpoint authenticated by token must be exempted explicitly.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import search  # noqa: E402,F401  (registers its routes on bp)
