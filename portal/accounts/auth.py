"""Flask-Login wiring: session users for pages, bearer API tokens for the JSON API."""

from __future__ import annotations

from flask import Flask, Request
from flask_babel import lazy_gettext as _l

from portal.core.models import utcnow
from portal.extensions import db, login_manager


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # Regenerates the session identifier if the IP/user agent changes (session fixation).
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        from portal.accounts.models import User

        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None

    @login_manager.request_loader
    def load_user_from_token(request: Request):
        if not request.path.startswith("/api/"):
            return None
        token = bearer_token(request)
        if token is None:
            return None
        token.last_used_at = utcnow()
        db.session.commit()
        return token.user


def bearer_token(request: Request):
    """The valid, unrevoked API token of an active user sent as ``Authorization: Bearer``,
    or None. Used by the API's login loader and by endpoints that accept nothing else."""
    from portal.accounts.models import ApiToken

    header = request.headers.get("Authorization", "")
    raw = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not raw:
        return None
    token = db.session.execute(
        db.select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(raw))
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    return token
