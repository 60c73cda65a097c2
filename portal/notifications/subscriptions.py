"""Use cases of the preferences page and the unsubscribe link: check → validate → change →
flush → audit; the request commits once (``portal.core.transaction``).

Kept apart from ``services.py``, which is the mail outbox.
"""

from __future__ import annotations

from flask_babel import gettext as _

from portal.accounts.models import User
from portal.core.audit import record_audit
from portal.core.services import PermissionDenied, ValidationError
from portal.notifications.events import preferences_of, set_preference, unsubscribe
from portal.notifications.kinds import DELIVERY_LABELS, kinds_for


def save_preferences(user: User, choices: dict[str, str]) -> dict[str, str]:
    """Store the person's choice per kind (only kinds offered to them); return what changed.

    ``ValidationError`` names every kind whose choice is not one of the offered options.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Log in to change your notifications."))
    offered = {kind.key for kind in kinds_for(user)}
    errors = {
        key: _("Choose one of the options.")
        for key, value in choices.items()
        if key in offered and value not in DELIVERY_LABELS
    }
    if errors:
        raise ValidationError(errors)
    current = preferences_of(user)
    changed = {k: v for k, v in choices.items() if k in offered and v != current[k]}
    for key, value in changed.items():
        set_preference(user, key, value)  # flushes
    if changed:
        record_audit(
            "notification-preferences",
            "notification_preference",
            actor_id=user.id,
            summary="Notification preferences changed: "
            + ", ".join(f"{k}={v}" for k, v in sorted(changed.items())),
        )
    return changed


def unsubscribe_by_link(user: User, kind: str) -> list[str]:
    """Turn off what a signed unsubscribe link names (its kind, or every kind of a digest).

    The link is the permission: it was sent to this person and names only their own choice,
    so no session is needed (RFC 8058 one-click requests carry none). Audited as the person.
    """
    turned_off = unsubscribe(user, kind)
    if turned_off:
        record_audit(
            "unsubscribe",
            user,
            actor_id=user.id,
            summary=f"Unsubscribed by e-mail link from {', '.join(turned_off)}",
        )
    return turned_off
