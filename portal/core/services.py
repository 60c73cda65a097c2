"""Errors raised by use-case functions (``<domain>/services.py``).

Services are called from web views, the JSON API and CLI commands; each caller turns these
into its own shape (errors beside form fields, a 422 JSON body, a row/column report), so the
errors carry data, not HTML.
"""

from __future__ import annotations

# Key for an error that belongs to no single field (shown at the top of a form).
FORM_ERROR = "_form"


class ServiceError(Exception):
    """Base class: a use case refused to run."""


class ValidationError(ServiceError):
    """The input broke one or more rules; ``errors`` maps a field name to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class PermissionDenied(ServiceError):
    """The actor may not do this (views answer 403)."""


def is_trusted(actor) -> bool:
    """``actor=None`` is a trusted command-line caller (imports, seeding) with no user."""
    return actor is None


def actor_id(actor) -> int | None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor.id


def set_archived(actor, obj, *, archived: bool, snapshot, summary: str, refusal: str):
    """Archive (or restore) anything with an ``archived_at`` column, with its audit entry.

    Archiving instead of deleting keeps references and the audit trail intact. ``refusal`` is
    the message when the object is already in the requested state.
    """
    from portal.core.audit import record_audit
    from portal.core.models import utcnow
    from portal.extensions import db

    if (obj.archived_at is not None) == archived:
        raise ValidationError({FORM_ERROR: refusal})
    before = snapshot(obj)
    obj.archived_at = utcnow() if archived else None
    db.session.flush()
    record_audit(
        "archive" if archived else "restore",
        obj,
        summary=summary,
        before=before,
        after=snapshot(obj),
        actor_id=actor_id(actor),
    )
    return obj
