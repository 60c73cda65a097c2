"""Audit log of staff (and partner) changes: who, what, when, before/after.

``record_audit`` only adds to the session; the request or CLI command commits, so an audit row
exists exactly when the change it describes does.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, has_request_context, request
from flask_babel import LazyString, force_locale
from flask_login import current_user
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import utcnow
from portal.extensions import db

# Security events (issue 15): who logged in, failed, was locked out, changed a password, made
# or revoked an API token, ended sessions. Only administrators see them in the audit log; role
# changes and deactivations are staff business and stay visible to all staff too.
SECURITY_ACTIONS = frozenset(
    {
        "login",
        "login-failed",
        "login-locked",
        "logout",
        "sessions-ended",
        "password-change",
        "password-reset",
        "invitation-accepted",
    }
)
SECURITY_OBJECT_TYPES = frozenset({"apitoken"})
# Shown to administrators under "Security events" along with the above.
ADMIN_SECURITY_ACTIONS = SECURITY_ACTIONS | {"role-change", "deactivate", "reactivate"}


def visible_audit_filter(user):
    """The audit rows ``user`` may read: everything for administrators; for other staff,
    everything but personal security events."""
    from portal.core.guard import can

    if can("admin", user=user):
        return db.true()
    return db.and_(
        AuditLog.action.not_in(SECURITY_ACTIONS),
        AuditLog.object_type.not_in(SECURITY_OBJECT_TYPES),
    )


def security_events_filter():
    return db.or_(
        AuditLog.action.in_(ADMIN_SECURITY_ACTIONS),
        AuditLog.object_type.in_(SECURITY_OBJECT_TYPES),
    )


class AuditLog(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    # Null for changes made by CLI commands (imports, seeding) with no logged-in user.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))  # create, update, archive, approve, import …
    object_type: Mapped[str] = mapped_column(String(40), index=True)
    object_id: Mapped[int | None] = mapped_column(Integer, index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(64))

    actor = relationship("User", lazy="joined")

    def __repr__(self) -> str:
        return f"<AuditLog {self.action} {self.object_type}:{self.object_id}>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: Any, fields: list[str]) -> dict:
    """A JSON-safe copy of the given attributes, for the before/after columns."""
    return {f: _jsonable(getattr(obj, f, None)) for f in fields}


def record_audit(
    action: str,
    obj: Any,
    *,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
    actor_id: int | None = None,
) -> AuditLog:
    if actor_id is None and has_request_context() and current_user.is_authenticated:
        actor_id = current_user.id
    if isinstance(summary, LazyString):
        # The log is one record for every reader: written in the portal's default language,
        # not in the language of whoever happened to make the change.
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            summary = str(summary)
    ip = request.remote_addr if has_request_context() else None
    if before is not None and after is not None:
        # Keep only what changed, so the log reads as a diff.
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        object_type=type(obj).__name__.lower() if not isinstance(obj, str) else obj,
        object_id=getattr(obj, "id", None),
        summary=summary,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        ip_address=ip,
    )
    db.session.add(entry)
    return entry
