"""Upload form for the staff import page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Regexp

from portal.core.forms import ConfirmForm, choice_list
from portal.imports.validation import AGREEMENTS, ORGANIZATIONS


class UploadForm(FlaskForm):
    kind = SelectField(
        _l("What does the file contain?"),
        choices=choice_list(
            [
                SelectChoice(ORGANIZATIONS, _l("Organisations")),
                SelectChoice(AGREEMENTS, _l("Agreements")),
            ]
        ),
        validators=[DataRequired()],
    )
    file = FileField(
        _l("CSV or XLSX file"),
        validators=[
            FileRequired(_l("Choose a file to upload.")),
            FileAllowed(["csv", "xlsx"], _l("Only .csv and .xlsx files can be imported.")),
        ],
    )


class ImportConfirmForm(ConfirmForm):
    """The "Confirm import" button: the random token naming the stored upload (see views.py
    for why it is stored)."""

    token = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{20,64}$")])
