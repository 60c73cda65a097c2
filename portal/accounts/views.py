"""Account pages: log in/out, password reset and invitations, profile, API tokens, users."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext, pgettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal.accounts import services
from portal.accounts.forms import (
    ApiTokenForm,
    ChangePasswordForm,
    LanguageForm,
    LoginForm,
    ResetRequestForm,
    SetPasswordForm,
    UserEditForm,
    UserForm,
)
from portal.accounts.models import Role, User
from portal.accounts.permissions import (
    assignable_roles,
    can_change_active,
    can_edit_user,
    visible_users_filter,
)
from portal.core.forms import ConfirmForm, choice_list
from portal.core.guard import ensure, require
from portal.core.pagination import paginate
from portal.core.security import mark_no_referrer, mark_private, safe_next
from portal.core.transaction import attempt
from portal.extensions import db, limiter

bp = Blueprint("accounts", __name__, url_prefix="/account")


LANGUAGE_NAMES = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "ru": "Русский",
    "zh": "中文",
    "ar": "العربية",
}


def _role_label(role: str) -> str:
    labels = {
        "admin": _("Administrator"),
        "staff": pgettext("role", "Staff"),
        "partner": _("Partner"),
        "reviewer": _("Reviewer"),
    }
    return labels.get(role, role)


@bp.app_context_processor
def _account_helpers():
    return {"role_label": _role_label}


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config.get("PASSWORD_RESET_RATE_LIMIT", "5 per minute;20 per hour")


# --- Log in / out ------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")) or url_for("core.home"))
    status = 200
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data, request.remote_addr)
        if result.outcome is services.LoginOutcome.OK:
            # A fresh session on every login (session fixation); only the language choice,
            # which is not sensitive, survives.
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            remember = bool(form.remember.data)
            services.start_session(
                result.user,
                remember=remember,
                ip_address=request.remote_addr,
                user_agent=request.user_agent.string,
            )
            login_user(result.user, remember=remember)
            return redirect(safe_next(form.next.data) or url_for("core.home"))
        # A failure answers 200, so its count is committed; a lock-out (429) is recorded by
        # the service on its own, since the request's transaction rolls back.
        if result.outcome is services.LoginOutcome.LOCKED:
            minutes = int(current_app.config.get("LOGIN_ACCOUNT_LOCK_SECONDS", 900)) // 60
            flash(
                _(
                    "Too many failed attempts for this account. Please try again in "
                    "%(minutes)s minutes or reset your password.",
                    minutes=minutes,
                ),
                "error",
            )
            status = 429
        else:
            flash(_("Invalid e-mail or password"), "error")
            status = 200
    elif request.method == "POST":
        flash(_("Invalid e-mail or password"), "error")
    form.password.data = ""
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # The server-side session goes, so a copy of either cookie is worthless from now on.
        services.end_session(current_user._get_current_object())
    session.clear()
    # After the clear: logout_user leaves a note in the session that makes Flask-Login delete
    # the remember-me cookie on this response.
    logout_user()
    flash(_("You have been logged out."), "success")
    return redirect(url_for("core.home"))


# --- Password reset and invitations ------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash(
            _(
                "If an account exists for that address, we have sent it a link to choose a new "
                "password. Check your inbox (and spam folder)."
            ),
            "success",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_request.html", form=form)


def _token_problem_message(problem: services.TokenProblem) -> str:
    if problem is services.TokenProblem.EXPIRED:
        return _("This link has expired. Please ask for a new one.")
    if problem is services.TokenProblem.USED:
        return _("This link has already been used. Please ask for a new one if you need it.")
    return _("This link is not valid. Check that you copied all of it, or ask for a new one.")


# A valid link's token moves from the URL into the session at the first visit, and the browser
# is sent on to a page whose address holds no secret: nothing is left in the address bar, the
# history or a Referer. Posting to the link itself still works (forms opened earlier).
_LINK_KEY = "password_link"


def _link_salt(invitation: bool) -> tuple[str, int]:
    if invitation:
        return services.INVITATION_SALT, services.invitation_max_age()
    return services.RESET_SALT, services.reset_max_age()


def _token_problem_page(problem: services.TokenProblem, invitation: bool):
    return (
        render_template(
            "accounts/token_problem.html",
            message=_token_problem_message(problem),
            invitation=invitation,
        ),
        400,
    )


def _set_password_page(token: str, *, invitation: bool, from_session: bool = False):
    mark_no_referrer()  # the URL is a secret: it must not reach another site as a Referer
    mark_private()
    salt, max_age = _link_salt(invitation)
    user, problem = services.load_password_token(token, salt, max_age)
    if problem is not None:
        if from_session:
            session.pop(_LINK_KEY, None)
        return _token_problem_page(problem, invitation)
    if request.method == "GET" and not from_session:
        # "next": where to go after logging in (a review invitation leads to its round).
        next_url = safe_next(request.args.get("next")) or None
        session[_LINK_KEY] = {"token": token, "invitation": invitation, "next": next_url}
        return redirect(url_for("accounts.choose_password"), 303)
    form = SetPasswordForm()
    if form.validate_on_submit():
        reason = "invitation-accepted" if invitation else "password-reset"
        if attempt(services.set_new_password, user, form.password.data, reason=reason, form=form):
            if current_user.is_authenticated:
                session.clear()
                logout_user()
            link = session.pop(_LINK_KEY, None) or {}
            flash(_("Your password has been set. You can now log in."), "success")
            return redirect(url_for("accounts.login", next=safe_next(link.get("next")) or None))
    return render_template(
        "accounts/set_password.html", form=form, user=user, invitation=invitation
    ), (400 if form.errors else 200)


@bp.route("/choose-password", methods=["GET", "POST"])
def choose_password():
    link = session.get(_LINK_KEY)
    if not isinstance(link, dict) or not isinstance(link.get("token"), str):
        mark_private()
        return _token_problem_page(services.TokenProblem.INVALID, invitation=False)
    return _set_password_page(
        link["token"], invitation=bool(link.get("invitation")), from_session=True
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _set_password_page(token, invitation=False)


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _set_password_page(token, invitation=True)


# --- Profile -----------------------------------------------------------------------------------


def _language_form(data=None) -> LanguageForm:
    form = LanguageForm(data=data)
    form.locale.choices = choice_list(
        [("", _("Automatic (from the browser)"))]
        + [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]
    )
    return form


def _render_profile(status=200, **forms):
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    forms.setdefault("language_form", _language_form({"locale": current_user.locale or ""}))
    forms.setdefault("token_form", ApiTokenForm(formdata=None))
    return (
        render_template(
            "accounts/profile.html",
            other_sessions=services.other_sessions_count(current_user),
            tokens=services.list_api_tokens(current_user),
            new_token=forms.pop("new_token", None),
            **forms,
        ),
        status,
    )


@bp.route("/")
@require("signed_in")
def profile():
    return _render_profile()


@bp.route("/password", methods=["POST"])
@require("signed_in")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if attempt(
            services.change_password,
            current_user,
            form.current_password.data,
            form.password.data,
            form=form,
        ):
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("accounts.profile"))
    return _render_profile(400, password_form=form)


@bp.route("/sessions/end-others", methods=["POST"])
@require("signed_in")
def end_other_sessions():
    if not ConfirmForm().validate_on_submit():  # the CSRF check
        abort(400)
    ended = services.end_sessions(
        current_user._get_current_object(), keep_current=True, reason="log out everywhere else"
    )
    flash(
        ngettext(
            "%(num)s other session has been logged out.",
            "%(num)s other sessions have been logged out.",
            ended,
        ),
        "success",
    )
    return redirect(url_for("accounts.profile"))


@bp.route("/language", methods=["POST"])
@require("signed_in")
def change_language():
    form = _language_form()
    if form.validate_on_submit() and attempt(
        services.set_locale, current_user, form.locale.data or None, form=form
    ):
        session.pop("lang", None)  # the saved preference now wins over the session's choice
        flash(_("Your language has been saved."), "success")
        return redirect(url_for("accounts.profile"))
    return _render_profile(400, language_form=form)


@bp.route("/tokens", methods=["POST"])
@require("signed_in")
def create_token():
    form = ApiTokenForm()
    if form.validate_on_submit():
        token, raw = services.create_api_token(current_user, form.name.data)
        # Rendered, not redirected: the raw token must be shown once and never stored.
        flash(
            _(
                "Token “%(name)s” created. Copy it now: it will not be shown again.",
                name=token.name,
            ),
            "success",
        )
        response = _render_profile(201, new_token=raw)
        return response
    return _render_profile(400, token_form=form)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@require("signed_in")
def revoke_token(token_id: int):
    outcome = attempt(services.revoke_api_token, current_user, token_id)
    if not outcome:
        abort(404)
    token = outcome.value
    flash(_("Token “%(name)s” revoked.", name=token.name), "success")
    return redirect(url_for("accounts.profile"))


@bp.after_request
def _no_store_for_account_pages(response):
    # Account pages show personal data and one-time tokens: keep them out of shared caches.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- User management (staff and admins) --------------------------------------------------------


def _organization_choices() -> list[tuple[str, str]]:
    from portal.partners.models import Organization

    orgs = db.session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.archived_at.is_(None))
        .order_by(Organization.name)
    ).all()
    return [("", _("— none —"))] + [(str(i), name) for i, name in orgs]


def _prepare_user_form(form):
    form.role.choices = choice_list([(r, _role_label(r)) for r in assignable_roles(current_user)])
    form.organization_id.choices = choice_list(_organization_choices())
    return form


def _org_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.route("/users")
@require("manage_users")
def users():
    from portal.partners.models import Organization

    stmt = select(User).where(visible_users_filter(current_user))
    role = request.args.get("role", "")
    if role in {r.value for r in Role}:
        stmt = stmt.filter_by(role=role)
    active = request.args.get("active", "")
    if active in ("yes", "no"):
        stmt = stmt.where(User.active.is_(active == "yes"))
    org_id = _org_id(request.args.get("organization"))
    if org_id is not None:
        stmt = stmt.where(User.organization_id == org_id)
    q = (request.args.get("q") or "").strip()
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(db.func.lower(User.name).like(like) | User.email.like(like))
    page = paginate(stmt.order_by(User.name, User.id))
    organizations = db.session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.id.in_(select(User.organization_id)))
        .order_by(Organization.name)
    ).all()
    return render_template(
        "accounts/users.html",
        page=page,
        role_choices=[(r.value, _role_label(r.value)) for r in Role],
        organizations=organizations,
        filters={"role": role, "active": active, "organization": org_id, "q": q},
        can_edit_user=can_edit_user,
        can_change_active=can_change_active,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require("manage_users")
def user_new():
    form = _prepare_user_form(UserForm())
    if request.method == "GET" and request.args.get("organization"):
        form.organization_id.data = request.args["organization"]
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(
            services.create_user,
            current_user,
            name=form.name.data,
            email=form.email.data,
            role=form.role.data,
            organization_id=_org_id(form.organization_id.data),
            form=form,
        )
        if outcome:
            flash(
                _(
                    "User %(email)s created; an invitation has been sent.",
                    email=outcome.value.email,
                ),
                "success",
            )
            return redirect(url_for("accounts.users"))
        form_errors = outcome.errors
    return render_template(
        "accounts/user_form.html", form=form, user=None, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@require("manage_users")
def user_edit(user_id: int):
    user = _load_user(user_id)
    ensure("edit_user", user)
    form = UserEditForm(
        data=None
        if request.method == "POST"
        else {
            "name": user.name,
            "role": user.role,
            "organization_id": str(user.organization_id or ""),
        }
    )
    _prepare_user_form(form)
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(
            services.update_user,
            current_user,
            user,
            name=form.name.data,
            role=form.role.data,
            organization_id=_org_id(form.organization_id.data),
            form=form,
        )
        if outcome:
            flash(_("User %(email)s saved.", email=user.email), "success")
            return redirect(url_for("accounts.users"))
        form_errors = outcome.errors
    return render_template(
        "accounts/user_form.html", form=form, user=user, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


def _set_active(user_id: int, active: bool):
    user = _load_user(user_id)
    outcome = attempt(services.set_user_active, current_user, user, active)
    if not outcome:
        for message in outcome.errors:
            flash(message, "error")
        return redirect(url_for("accounts.users"))
    if active:
        flash(_("User %(email)s reactivated.", email=user.email), "success")
    else:
        flash(_("User %(email)s deactivated.", email=user.email), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.users"))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@require("manage_users")
def user_deactivate(user_id: int):
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@require("manage_users")
def user_reactivate(user_id: int):
    return _set_active(user_id, True)


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@require("manage_users")
def user_invite(user_id: int):
    user = _load_user(user_id)
    outcome = attempt(services.resend_invitation, current_user, user)
    if not outcome:
        for message in outcome.errors:
            flash(message, "error")
        return redirect(url_for("accounts.users"))
    flash(_("A new invitation has been sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("accounts.users"))
