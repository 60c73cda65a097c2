from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import TimestampMixin, utcnow
from portal.extensions import db

_hasher = PasswordHasher()
_dummy_hashes: dict[tuple, str] = {}


def verify_password(password_hash: str, password: str) -> bool:
    """The one place a password is checked against a hash (tests count the calls)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_dummy_password(password: str) -> None:
    """Spend the time of a real verification for a login with no account (or no password yet),
    so unknown and known addresses take the same time. The dummy hash is made once per set of
    hasher parameters, with the same parameters as real hashes."""
    key = (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash(secrets.token_urlsafe(24))
    verify_password(_dummy_hashes[key], password)


class Role(enum.StrEnum):
    """One role per user; admin implies staff. Kept as a string column for readable data."""

    ADMIN = "admin"
    STAFF = "staff"
    PARTNER = "partner"
    REVIEWER = "reviewer"


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so look-ups and the unique constraint ignore case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.PARTNER.value)
    # Partner users belong to one organisation; staff and reviewers may have none.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # Deactivated users cannot log in; rows are kept for the audit trail.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    organization = relationship("Organization", back_populates="members")

    def __repr__(self) -> str:
        return f"<User {self.email} ({self.role})>"

    # Flask-Login reads this to refuse deactivated accounts.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    # Whether a user is staff or admin is a permission, not a model property:
    # ``portal.accounts.permissions.is_staff`` / ``can("staff")`` (active accounts only).

    # Flask-Login keeps ``get_id()`` in the session and in the remember-me cookie. Ours names the
    # server-side session too ("<user id>:<session key>"), so either cookie is worth nothing
    # once that session row is gone (logout, password change, deactivation).
    session_key = None  # set at login and by the loader; not a column

    def get_id(self) -> str:
        return f"{self.id}:{self.session_key}" if self.session_key else str(self.id)

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        """Every call costs one hash verification, whether or not a password is set, so the
        time a login takes says nothing about the account (see ``verify_dummy_password``)."""
        if not self.password_hash:
            verify_dummy_password(password)
            return False
        return verify_password(self.password_hash, password)

    def password_fingerprint(self) -> str:
        """Changes whenever the password does: reset tokens embed it, so they are single-use."""
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:16]


class ApiToken(db.Model):
    """Personal API tokens for the JSON API; only a SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user = relationship("User")

    def __repr__(self) -> str:
        return f"<ApiToken {self.name} user={self.user_id}>"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class LoginFailure(db.Model):
    """One failed login attempt for an e-mail address (existing or not), for the per-account
    throttle. A table rather than the rate limiter's memory store, so every worker process
    sees the same count; rows older than the throttle window are pruned as new ones arrive."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower-cased as typed; deliberately not a foreign key, so unknown addresses count too
    # (otherwise the lock would reveal which addresses have accounts).
    email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    ip_address: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<LoginFailure {self.email} at {self.created_at}>"


class UserSession(db.Model):
    """One logged-in browser. The cookie names the row by a random key (only its SHA-256 is
    stored); the row goes on logout, password change or deactivation, and with it every copy
    of the cookie. Checked on each request by the same query that loads the user, and never
    written to after login, so ordinary requests cost no database write."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Absolute end: 12 hours, or the remember-me cookie's 30 days.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user = relationship("User")

    def __repr__(self) -> str:
        return f"<UserSession user={self.user_id} until {self.expires_at}>"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()
