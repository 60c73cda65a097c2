"""Flask-Login wiring: session users for pages, bearer API tokens for the JSON API."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, Request
from flask_babel import lazy_gettext as _l

from portal.core.models import as_utc, utcnow
from portal.extensions import db, login_manager

log = logging.getLogger(__name__)

TOKEN_USE_RESOLUTION = timedelta(minutes=5)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # Regenerates the session identifier if the IP/user agent changes (session fixation).
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        return load_session_user(user_id)

    @login_manager.request_loader
    def load_user_from_token(request: Request):
        if not request.path.startswith("/api/"):
            return None
        token = bearer_token(request)
        if token is None:
            return None
        # "Last used" to the nearest few minutes: a script polling the API must not turn
        # every read into a database write.
        now = utcnow()
        last = as_utc(token.last_used_at)
        if last is None or now - last >= TOKEN_USE_RESOLUTION:
            record_token_use(token.id, now)
        return token.user


def record_token_use(token_id: int, now) -> None:
    """Note when a token was last used, outside the request's transaction.

    Bookkeeping, not a change the caller asked for: a GET stays read-only in its own
    transaction (``portal.core.transaction``), and a failing or refused request still counts
    as a use. One short statement on its own connection; the WHERE makes concurrent requests
    of the same token write once per resolution window, not once each.
    """
    from sqlalchemy import or_, update
    from sqlalchemy.exc import SQLAlchemyError

    from portal.accounts.models import ApiToken

    threshold = now - TOKEN_USE_RESOLUTION
    try:
        with db.engine.begin() as connection:
            connection.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= threshold),
                )
                .values(last_used_at=now)
            )
    except SQLAlchemyError:
        # A busy database (SQLite's lock, a full pool) must not turn a read into an error:
        # the next request of this token tries again.
        log.warning("could not record the use of API token %s", token_id, exc_info=True)


def load_session_user(user_id: str):
    """The active user named by a session or remember-me cookie ("<id>:<session key>"), if that
    server-side session still exists and has not expired. One read, no write."""
    from portal.accounts.models import User, UserSession

    raw_id, _sep, key = (user_id or "").partition(":")
    if not raw_id.isdigit() or len(raw_id) > 12 or not key or len(key) > 200:
        return None  # a cookie from before server-side sessions, or forged: log in again
    user = db.session.execute(
        db.select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == int(raw_id),
            UserSession.key_hash == UserSession.hash(key),
            UserSession.expires_at > utcnow(),
        )
    ).scalar_one_or_none()
    if user is None or not user.is_active:
        return None
    user.session_key = key
    return user


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
