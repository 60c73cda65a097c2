"""Account forms: login, password reset, profile, API tokens, user management."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

MIN_PASSWORD_LENGTH = 12


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _lower_strip(value):
    return value.strip().lower() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    # No Email() validator: a malformed address gets the same generic answer as a wrong one.
    email = StringField(
        _l("E-mail"),
        validators=[DataRequired()],
        filters=[_lower_strip],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


def _new_password_fields():
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class ResetRequestForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(), Email(message=_l("Enter a valid e-mail address."))],
        filters=[_lower_strip],
        render_kw={"autocomplete": "email"},
    )


class SetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields()


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), validators=[Optional()])


class ApiTokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        validators=[DataRequired(), Length(max=100)],
        filters=[_strip],
        description=_l("What the token is for, e.g. “reporting spreadsheet”."),
    )


class UserForm(FlaskForm):
    name = StringField(
        _lp("person", "Name"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(),
            Email(message=_l("Enter a valid e-mail address.")),
            Length(max=254),
        ],
        filters=[_lower_strip],
    )
    role = SelectField(_l("Role"), validators=[DataRequired()])
    # Choices are organisation ids as strings, plus "" for none; checked in the service.
    organization_id = SelectField(_l("Organisation"), validators=[Optional()])


class UserEditForm(FlaskForm):
    name = StringField(
        _lp("person", "Name"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    role = SelectField(_l("Role"), validators=[DataRequired()])
    organization_id = SelectField(_l("Organisation"), validators=[Optional()])
