"""Notification preferences, and the one-click unsubscribe link every non-essential mail carries.

The unsubscribe endpoint is CSRF-safe without a CSRF token: it acts only on the person and kind
named in its signed token, never on the session's user, so a forged cross-site request can do
nothing its author could not already do with the link itself. GET only asks (mail scanners
follow links); POST acts — from the page's button or a mail provider's RFC 8058 one-click
request (``List-Unsubscribe=One-Click``), which carries no cookies and no form token.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from portal.core.guard import require
from portal.core.transaction import attempt
from portal.extensions import csrf
from portal.notifications import subscriptions
from portal.notifications.events import DIGEST_KIND, preferences_of, read_unsubscribe_token
from portal.notifications.kinds import DELIVERY_LABELS, KINDS, kinds_for

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/preferences", methods=["GET", "POST"])
@require("signed_in")
def preferences():
    kinds = kinds_for(current_user)
    current = preferences_of(current_user)
    errors: dict[str, str] = {}
    saved = False
    if request.method == "POST":
        choices = {
            kind.key: request.form.get(f"kind-{kind.key}", current[kind.key]) for kind in kinds
        }
        outcome = attempt(subscriptions.save_preferences, current_user, choices)
        if outcome:
            current = preferences_of(current_user)
            saved = True
        else:
            errors = outcome.field_errors
            current = {**current, **choices}
    return (
        render_template(
            "notifications/preferences.html",
            kinds=kinds,
            current=current,
            labels=DELIVERY_LABELS,
            errors=errors,
            saved=saved,
        ),
        400 if errors else 200,
    )


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe_link(token: str):
    found = read_unsubscribe_token(token)
    if found is None:
        return render_template("notifications/unsubscribe.html", problem=True), 404
    user, kind = found
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    done = False
    if request.method == "POST":
        subscriptions.unsubscribe_by_link(user, kind)
        done = True
        if one_click:
            # A mail provider's background request: a short answer, nobody reads a page.
            return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    is_digest = kind.startswith(f"{DIGEST_KIND}:")
    return render_template(
        "notifications/unsubscribe.html",
        problem=False,
        kind=None if is_digest else KINDS[kind],
        cadence=kind.split(":", 1)[1] if is_digest else None,
        done=done,
        email=user.email,
        delivery_labels=DELIVERY_LABELS,
    )
