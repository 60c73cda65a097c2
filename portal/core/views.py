"""The ``core`` blueprint: the language switch and the favicon.

The home page (``core.home``) is the catalogue's: ``portal.partners.home_views`` adds it to
this blueprint, so its endpoint name stays what templates and redirects use."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)

from portal.core.security import safe_next

bp = Blueprint("core", __name__)


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("core.home"))


@bp.route("/favicon.ico")
def favicon():
    """Browsers and feed readers ask for /favicon.ico whatever the page's <link rel=icon>."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )
