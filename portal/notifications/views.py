"""Notification preferences, and the one-click unsubscribe link every non-essential mail carries.

The unsubscribe endpoint is CSRF-safe without a CSRF token: it acts only on the person and kind
named in its signed token, never on the session's user, so a forged cross-site request can do
nothing its author could not already do with the link itself. GET only asks (mail scanners
follow links); POST acts — from the page's button or a mail provider's RFC 8058 one-click
request (``List-Unsubscribe=One-Click``), which carries no cookies and no form token.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.core.audit import record_audit
from portal.extensions import csrf, db
from portal.notifications.events import (
    DIGEST_KIND,
    preferences_of,
    read_unsubscribe_token,
    set_preference,
    unsubscribe,
)
from portal.notifications.kinds import DELIVERY_LABELS, KINDS, kinds_for

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    kinds = kinds_for(current_user)
    current = preferences_of(current_user)
    errors: dict[str, str] = {}
    saved = False
    if request.method == "POST":
        choices = {}
        for kind in kinds:
            value = request.form.get(f"kind-{kind.key}", current[kind.key])
            if value not in DELIVERY_LABELS:
                errors[kind.key] = _("Choose one of the options.")
            choices[kind.key] = value
        if not errors:
            changed = {k: v for k, v in choices.items() if v != current[k]}
            for key, value in changed.items():
                set_preference(current_user, key, value)
            if changed:
                record_audit(
                    "notification-preferences",
                    "notification_preference",
                    actor_id=current_user.id,
                    summary="Notification preferences changed: "
                    + ", ".join(f"{k}={v}" for k, v in sorted(changed.items())),
                )
            db.session.commit()
            current = preferences_of(current_user)
            saved = True
        else:
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
        turned_off = unsubscribe(user, kind)
        if turned_off:
            record_audit(
                "unsubscribe",
                user,
                actor_id=user.id,
                summary=f"Unsubscribed by e-mail link from {', '.join(turned_off)}",
            )
        db.session.commit()
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
