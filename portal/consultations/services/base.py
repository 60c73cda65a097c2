"""What every consultations use case shares: the refusal it raises when a rule says no."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.core.services import PermissionDenied


def refuse_unless(allowed: bool, message: str | None = None) -> None:
    """Raise ``PermissionDenied`` (403 in a view) unless a ``permissions.py`` rule allowed it."""
    if not allowed:
        raise PermissionDenied(message or _("You may not do this."))
