"""A viewer's consultation settings: the time zone meeting times are also shown in, and the
personal calendar feed (a secret URL calendar apps fetch without a session).

The feed URL is a signed token naming the user and their feed key. A user who never reset the
link has an *initial* key derived from the secret key and their id, so showing the link (a GET)
stores nothing; "Reset the feed link" (a POST) stores a new random key, which revokes every
earlier link. Links issued before this rule carry a stored random key and keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from portal.accounts.models import User
from portal.consultations.models import ConsultationPreference, Invitation, Meeting
from portal.consultations.permissions import can_view_meeting
from portal.consultations.timezones import valid_timezones
from portal.core.audit import record_audit
from portal.core.models import utcnow
from portal.core.services import ValidationError
from portal.extensions import db


def preference_for(user, create: bool = False) -> ConsultationPreference | None:
    """The user's stored settings; ``create=True`` (use cases only, never a GET) adds the row,
    keeping the feed link the user already has."""
    pref = db.session.get(ConsultationPreference, user.id)
    if pref is None and create:
        pref = ConsultationPreference(user_id=user.id, feed_key=initial_feed_key(user.id))
        db.session.add(pref)
        db.session.flush()
    return pref


def viewer_timezone(user) -> str:
    if not getattr(user, "is_authenticated", False):
        return "UTC"
    pref = preference_for(user)
    return pref.timezone if pref and pref.timezone else "UTC"


def set_viewer_timezone(user, name: str) -> None:
    name = (name or "").strip()
    if name and name not in valid_timezones():
        raise ValidationError({"timezone": _("“%(tz)s” is not a known time zone.", tz=name[:64])})
    preference_for(user, create=True).timezone = name or None
    db.session.flush()


# --------------------------------------------------------------------------- calendar feed


def _secret() -> bytes:
    key = current_app.config["SECRET_KEY"]
    return key if isinstance(key, bytes) else str(key).encode()


def initial_feed_key(user_id: int) -> str:
    """The feed key of a user who never reset their link: computed, never needs storing."""
    message = f"consultations-feed-key:{user_id}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()[:32]


def current_feed_key(user) -> str:
    pref = preference_for(user)
    if pref is not None and pref.feed_key:
        return pref.feed_key
    return initial_feed_key(user.id)


def _feed_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="consultations-feed")


def feed_token(user) -> str:
    """A signed, non-expiring token naming the user and their current feed key, so calendar
    apps can fetch the feed without a session. Resetting the key revokes it. Reads only."""
    return _feed_serializer().dumps({"u": user.id, "k": current_feed_key(user)})


def user_from_feed_token(token: str) -> User | None:
    try:
        payload = _feed_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user_id = payload.get("u")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active:
        return None
    if not secrets.compare_digest(current_feed_key(user), str(payload.get("k", ""))):
        return None
    return user


def rotate_feed_key(user) -> None:
    """Reset the feed link: a new random key, so every earlier link stops working."""
    pref = preference_for(user, create=True)
    pref.feed_key = secrets.token_hex(16)
    pref.feed_key_rotated_at = utcnow()
    db.session.flush()
    record_audit(
        "rotate-feed",
        "consultation_preference",
        actor_id=user.id,
        summary="Calendar feed link reset",
    )


def feed_meetings(user) -> list[Meeting]:
    """Every meeting the user is invited to and may still see (drafts and lost access drop out)."""
    meetings = db.session.scalars(
        select(Meeting)
        .join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(Invitation.user_id == user.id)
        .order_by(Meeting.starts_at)
    ).all()
    return [m for m in meetings if can_view_meeting(user, m)]
