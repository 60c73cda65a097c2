"""Account use cases: log in, reset and change passwords, API tokens, manage users.

Each function checks permission → validates → changes → flushes → records the audit entry. None
of them commits: the view or CLI command does, once, so an e-mail in the outbox, an audit row
and the change they describe are saved together or not at all.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.accounts.models import (
    ApiToken,
    LoginFailure,
    Role,
    User,
    UserSession,
    verify_dummy_password,
)
from portal.accounts.passwords import password_problem
from portal.accounts.permissions import (
    can_assign_role,
    can_change_active,
    can_edit_user,
    can_give_role,
    can_manage_users,
)
from portal.core.audit import AuditLog, record_audit, snapshot
from portal.core.models import utcnow
from portal.core.services import FORM_ERROR, ValidationError
from portal.core.services import PermissionDenied as CorePermissionDenied
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.models import OutgoingMail
from portal.notifications.services import queue_mail

log = logging.getLogger(__name__)

USER_AUDIT_FIELDS = ["name", "email", "role", "organization_id", "active"]


class AccountError(ValidationError):
    """A rule was broken; ``field`` names the form field the message belongs next to (none: the
    message belongs to the whole form). A ``ValidationError``, so ``attempt`` puts it beside
    the field and a caller outside a form gets a 400."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__({field or FORM_ERROR: message})
        self.message = message
        self.field = field


class PermissionDenied(CorePermissionDenied):
    """The actor may not do this: 403 (the app-wide handler)."""


def find_user_by_email(email: str) -> User | None:
    email = (email or "").strip().lower()
    if not email:
        return None
    return db.session.scalar(select(User).where(User.email == email))


# --- Logging in --------------------------------------------------------------------------------


class LoginOutcome(Enum):
    OK = "ok"
    INVALID = "invalid"  # wrong e-mail, wrong password or deactivated: one answer for all three
    LOCKED = "locked"  # too many recent failures for this e-mail address


@dataclass
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None


def _lock_window() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("LOGIN_ACCOUNT_LOCK_SECONDS", 15 * 60)))


def _lock_threshold() -> int:
    return int(current_app.config.get("LOGIN_ACCOUNT_MAX_FAILURES", 10))


def recent_login_failures(email: str) -> int:
    since = utcnow() - _lock_window()
    return db.session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.email == email, LoginFailure.created_at >= since
        )
    )


def authenticate(email: str, password: str, ip_address: str | None = None) -> LoginResult:
    """Check a login attempt, counting failures per e-mail address.

    The per-address lock complements the per-IP rate limit: it stops a slow, distributed guess
    at one account. Unknown addresses are counted too, so the lock reveals nothing about which
    addresses exist; the password is not even checked while an address is locked.
    """
    email = (email or "").strip().lower()[:254]
    if recent_login_failures(email) >= _lock_threshold():
        # The refusal is answered 429, so the request's transaction rolls back: the lock-out
        # is written on its own (as the failures before it were, with their 200 answers).
        _save_apart(record_security_event("login-locked", find_user_by_email(email), email=email))
        return LoginResult(LoginOutcome.LOCKED)
    user = find_user_by_email(email)
    if user is None:
        verify_dummy_password(password)  # the same time as a wrong password (issue 15, S3)
    if user is None or not user.check_password(password) or not user.is_active:
        record_security_event("login-failed", user, email=email)
        # Keep the table small: this address's rows outside the window are no longer needed.
        db.session.execute(
            delete(LoginFailure).where(
                LoginFailure.email == email, LoginFailure.created_at < utcnow() - _lock_window()
            )
        )
        db.session.add(LoginFailure(email=email, ip_address=ip_address))
        db.session.flush()
        return LoginResult(LoginOutcome.INVALID)
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    user.last_login_at = utcnow()
    db.session.flush()
    record_security_event("login", user)
    return LoginResult(LoginOutcome.OK, user)


def _masked(email: str) -> str:
    """An address typed at the login form, recognisable to its owner but not a list of
    addresses (people sometimes type a password into the e-mail field)."""
    local, at, domain = email.partition("@")
    if not at or not local or not domain or " " in email:
        return "(not an e-mail address)"
    return f"{local[0]}…@{domain[:100]}"


SECURITY_SUMMARIES = {
    "login": "Logged in",
    "login-failed": "Failed login",
    "login-locked": "Login refused: too many failures",
    "logout": "Logged out",
    "sessions-ended": "Sessions ended",
}


def record_security_event(
    action: str, user: User | None, *, email: str = "", detail: str = ""
) -> AuditLog:
    """A login, failed login, lock-out, logout or ending of sessions, in the audit log (only
    administrators see these; ``portal.core.audit.SECURITY_ACTIONS``)."""
    summary = SECURITY_SUMMARIES.get(action, action)
    if user is not None:
        summary = f"{summary}: {user.email}"
    elif email:
        summary = f"{summary}: unknown address {_masked(email)}"
    if detail:
        summary = f"{summary} ({detail})"
    from flask_login import current_user

    actor = current_user if current_user and current_user.is_authenticated else user
    return record_audit(
        action,
        user if user is not None else "user",
        summary=summary,
        actor_id=getattr(actor, "id", None),
    )


def _save_apart(entry: AuditLog) -> None:
    """Write an audit entry in its own short transaction, not the request's.

    Only for evidence that must outlive a refused request (the request's transaction rolls
    back on a 4xx answer). A failure to write it is logged, never shown to the visitor.
    """
    db.session.expunge(entry)
    try:
        with Session(db.engine) as apart, apart.begin():
            apart.add(entry)
    except SQLAlchemyError:
        log.exception("could not record %s", entry.action)


# --- Server-side sessions ----------------------------------------------------------------------


def start_session(
    user: User, *, remember: bool, ip_address: str | None = None, user_agent: str | None = None
) -> str:
    """Open a server-side session for a login; sets ``user.session_key`` for Flask-Login.

    Expired rows of this user are pruned here, at login, rather than by any request."""
    now = utcnow()
    lifetime = current_app.config[
        "REMEMBER_COOKIE_DURATION" if remember else "PERMANENT_SESSION_LIFETIME"
    ]
    db.session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now)
    )
    key = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            key_hash=UserSession.hash(key),
            created_at=now,
            expires_at=now + lifetime,
            ip_address=(ip_address or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    db.session.flush()
    user.session_key = key
    return key


def end_session(user: User) -> None:
    """Logout: this browser's session ends, and every copy of its cookies with it."""
    if user.session_key:
        db.session.execute(
            delete(UserSession).where(
                UserSession.user_id == user.id,
                UserSession.key_hash == UserSession.hash(user.session_key),
            )
        )
        db.session.flush()
        record_security_event("logout", user)
        user.session_key = None


def end_sessions(user: User, *, keep_current: bool = False, reason: str = "") -> int:
    """End the user's sessions everywhere (password change or reset, deactivation, "log out
    everywhere else"); with ``keep_current`` the browser doing it stays logged in."""
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep_current and user.session_key:
        stmt = stmt.where(UserSession.key_hash != UserSession.hash(user.session_key))
    ended = db.session.execute(stmt).rowcount or 0
    db.session.flush()
    if ended:
        record_security_event(
            "sessions-ended", user, detail=f"{ended}, {reason}" if reason else str(ended)
        )
    if not keep_current:
        user.session_key = None
    return ended


def prune_expired_sessions() -> int:
    """Delete every expired session row (the worker's round; logins prune their own user's)."""
    result = db.session.execute(delete(UserSession).where(UserSession.expires_at <= utcnow()))
    db.session.flush()
    return result.rowcount or 0


def other_sessions_count(user: User) -> int:
    stmt = select(func.count(UserSession.id)).where(
        UserSession.user_id == user.id, UserSession.expires_at > utcnow()
    )
    if user.session_key:
        stmt = stmt.where(UserSession.key_hash != UserSession.hash(user.session_key))
    return db.session.scalar(stmt) or 0


# --- Signed links for password reset and invitations ------------------------------------------

RESET_SALT = "portal.password-reset"
INVITATION_SALT = "portal.invitation"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_password_token(user: User, salt: str = RESET_SALT) -> str:
    # The fingerprint changes with the password, so a used link stops working at once.
    return _serializer(salt).dumps({"u": user.id, "f": user.password_fingerprint()})


class TokenProblem(Enum):
    EXPIRED = "expired"
    INVALID = "invalid"
    USED = "used"


def load_password_token(
    token: str, salt: str, max_age: int
) -> tuple[User | None, TokenProblem | None]:
    try:
        payload = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        return None, TokenProblem.EXPIRED
    except BadData:
        return None, TokenProblem.INVALID
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        return None, TokenProblem.INVALID
    user = db.session.get(User, payload["u"])
    if user is None or not user.is_active:
        return None, TokenProblem.INVALID
    if payload.get("f") != user.password_fingerprint():
        return None, TokenProblem.USED
    return user, None


def reset_max_age() -> int:
    return int(current_app.config["PASSWORD_RESET_MAX_AGE"])


def invitation_max_age() -> int:
    return int(current_app.config.get("INVITATION_MAX_AGE", 7 * 24 * 60 * 60))


def _queue_templated_mail(
    user: User, template: str, subject: str, category: str, **context
) -> None:
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        context = {"user": user, "lang": locale, "rtl": locale == "ar", **context}
        queue_mail(
            user.email,
            subject if isinstance(subject, str) else str(subject),
            render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
            category=category,
        )


def request_password_reset(email: str) -> None:
    """Queue a reset link if an active account has this address; say nothing either way.

    At most three reset e-mails per address per hour, so the form cannot be used to flood
    someone's inbox from many IP addresses.
    """
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    recent = db.session.scalar(
        select(func.count(OutgoingMail.id)).where(
            OutgoingMail.to_address == user.email,
            OutgoingMail.category == "password-reset",
            OutgoingMail.created_at >= utcnow() - timedelta(hours=1),
        )
    )
    if recent >= 3:
        return
    token = make_password_token(user, RESET_SALT)
    minutes = max(1, reset_max_age() // 60)
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Reset your Partnership Portal password")
    _queue_templated_mail(
        user,
        "password_reset",
        subject,
        "password-reset",
        link=absolute_url("accounts.reset_password", token=token),
        minutes=minutes,
    )


def check_password_policy(user: User, password: str) -> None:
    problem = password_problem(password, email=user.email or "", name=user.name or "")
    if problem:
        raise AccountError(problem, field="password")


def set_new_password(user: User, password: str, *, reason: str = "password-reset") -> None:
    """Set a password (reset link, invitation, change) and end the user's other sessions: a
    thief holding a copied cookie loses it the moment the owner changes the password."""
    check_password_policy(user, password)
    user.set_password(password)
    db.session.flush()
    record_audit(reason, user, summary=f"Password set for {user.email}", actor_id=user.id)
    end_sessions(user, keep_current=reason == "password-change", reason=reason)


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not user.check_password(current_password):
        raise AccountError(_("The current password is not correct."), field="current_password")
    if current_password == new_password:
        raise AccountError(_("Choose a password different from the current one."), field="password")
    set_new_password(user, new_password, reason="password-change")


def set_locale(user: User, locale: str | None) -> None:
    languages = current_app.config["LANGUAGES"]
    if locale and locale not in languages:
        raise AccountError(_("Choose one of the offered languages."), field="locale")
    user.locale = locale or None
    db.session.flush()


# --- API tokens --------------------------------------------------------------------------------


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Return the token row and the raw token, which is shown once and never stored."""
    raw = "psp_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=ApiToken.hash(raw))
    db.session.add(token)
    db.session.flush()
    record_audit("create", token, summary=f"API token “{token.name}” created", actor_id=user.id)
    return token, raw


def revoke_api_token(user: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    # Someone else's token is reported as missing, not forbidden: its existence is private.
    if token is None or token.user_id != user.id:
        raise AccountError(_("That token does not exist."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        record_audit("revoke", token, summary=f"API token “{token.name}” revoked", actor_id=user.id)
    return token


def list_api_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


# --- Managing users ----------------------------------------------------------------------------


def _check_role_and_organization(actor, role: str, organization_id: int | None):
    from portal.partners.models import Organization

    if role not in {r.value for r in Role}:
        raise AccountError(_("Choose one of the offered roles."), field="role")
    if not can_assign_role(actor, role):
        raise AccountError(_("Only administrators may give this role."), field="role")
    organization = None
    if organization_id is not None:
        organization = db.session.get(Organization, organization_id)
        if organization is None or organization.archived_at is not None:
            raise AccountError(_("Choose an existing organisation."), field="organization_id")
    if role == Role.PARTNER and organization is None:
        raise AccountError(
            _("A partner user must belong to an organisation."), field="organization_id"
        )
    return organization


def create_user(
    actor,
    *,
    name: str,
    email: str,
    role: str,
    organization_id: int | None = None,
    password: str | None = None,
    invite: bool = True,
) -> User:
    """Create an account. Without a password the person gets an invitation to choose one.

    ``actor`` None means a trusted CLI operator (no web permission check).
    """
    if actor is not None and not can_manage_users(actor):
        raise PermissionDenied(_("You may not manage users."))
    email = (email or "").strip().lower()
    if find_user_by_email(email) is not None:
        raise AccountError(_("A user with this e-mail address already exists."), field="email")
    if actor is None:
        from portal.partners.models import Organization

        if role not in {r.value for r in Role}:
            raise AccountError(_("Choose one of the offered roles."), field="role")
        if organization_id is not None and db.session.get(Organization, organization_id) is None:
            raise AccountError(_("Choose an existing organisation."), field="organization_id")
        if role == Role.PARTNER and organization_id is None:
            raise AccountError(
                _("A partner user must belong to an organisation."), field="organization_id"
            )
    else:
        _check_role_and_organization(actor, role, organization_id)
    user = User(
        name=name.strip(), email=email, role=role, organization_id=organization_id, active=True
    )
    if password:
        check_password_policy(user, password)
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_audit(
        "create",
        user,
        summary=f"User {user.email} created with role {role}",
        after=snapshot(user, USER_AUDIT_FIELDS),
        actor_id=getattr(actor, "id", None),
    )
    if invite and not password:
        send_invitation(user)
    return user


def send_invitation(user: User) -> None:
    token = make_password_token(user, INVITATION_SALT)
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("You are invited to the Partnership Portal")
    _queue_templated_mail(
        user,
        "invitation",
        subject,
        "invitation:user",
        link=absolute_url("accounts.accept_invitation", token=token),
        days=max(1, invitation_max_age() // 86400),
    )


def resend_invitation(actor, target: User) -> None:
    if not can_edit_user(actor, target):
        raise PermissionDenied(_("You may not change this user."))
    if not target.is_active:
        raise AccountError(_("Reactivate the account before inviting the person again."))
    send_invitation(target)
    record_audit("invite", target, summary=f"Invitation sent again to {target.email}")


def update_user(actor, target: User, *, name: str, role: str, organization_id: int | None) -> User:
    if not can_edit_user(actor, target):
        raise PermissionDenied(_("You may not change this user."))
    if not can_give_role(actor, target, role):
        raise AccountError(_("You cannot change your own role."), field="role")
    _check_role_and_organization(actor, role, organization_id)
    before = snapshot(target, USER_AUDIT_FIELDS)
    target.name = name.strip()
    target.role = role
    target.organization_id = organization_id
    db.session.flush()
    record_audit(
        "role-change" if before["role"] != role else "update",
        target,
        summary=(
            f"User {target.email}: role {before['role']} → {role}"
            if before["role"] != role
            else f"User {target.email} changed"
        ),
        before=before,
        after=snapshot(target, USER_AUDIT_FIELDS),
    )
    return target


def set_user_active(actor, target: User, active: bool) -> User:
    if actor is not None and actor.id == target.id:
        raise AccountError(_("You cannot deactivate your own account."))
    if actor is not None and not can_change_active(actor, target):
        raise PermissionDenied(_("You may not change this user."))
    if target.active == active:
        return target
    before = snapshot(target, USER_AUDIT_FIELDS)
    target.active = active
    db.session.flush()
    if not active:
        end_sessions(target, reason="deactivated")
    record_audit(
        "reactivate" if active else "deactivate",
        target,
        summary=f"User {target.email} {'reactivated' if active else 'deactivated'}",
        before=before,
        after=snapshot(target, USER_AUDIT_FIELDS),
        actor_id=getattr(actor, "id", None),
    )
    return target
