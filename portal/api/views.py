"""The ``/api/v1`` blueprint. Resource modules add their routes to ``bp`` (``portal/__init__.py``
imports them before it registers the blueprint).

Authentication is the session cookie or ``Authorization: Bearer <token>`` (see
``portal.accounts.auth``); every endpoint applies the same permission rules as the pages.
A bearer token that is not valid (unknown, revoked, its user deactivated) is refused with 401
rather than read as anonymous, so a client never mistakes a public subset for its own view.
Errors are JSON (``portal.core.errors``). The one POST endpoint (a review comment) accepts a
bearer token only, never the cookie, and is exempt from CSRF for that reason.

``/api/v1/openapi.json`` is generated from the decorated views (``portal.api.openapi``);
``/api/v1/docs`` renders that same document as a page.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request

from portal.accounts.auth import bearer_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def refuse_invalid_tokens():
    scheme = request.headers.get("Authorization", "").split(None, 1)
    if scheme and scheme[0].lower() == "bearer" and bearer_token(request) is None:
        abort(401)


@bp.get("/openapi.json")
def openapi_json():
    from portal.api.openapi import document

    response = jsonify(document())
    response.headers["Access-Control-Allow-Origin"] = "*"  # a public description
    return response


@bp.get("/docs")
def docs():
    from portal.api.docs_page import docs_context

    return render_template("api/docs.html", **docs_context())
