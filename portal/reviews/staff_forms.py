"""Forms for the staff side of reviews: answering comments and placing carried comments.

The forms check shape (CSRF, known choices, lengths); the rules that matter to the use case
(a response is required for "rejected") live in ``dispositions.py`` so the API and bulk actions
obey them too, and their messages are put back beside the right field by the view.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from portal.core.forms import choice_list
from portal.reviews.dispositions import DECISION_LABELS, MAX_RESPONSE_LENGTH


def _decision_choices() -> list[SelectChoice]:
    return choice_list([("", _l("— choose —")), *DECISION_LABELS.items()])


class DispositionForm(FlaskForm):
    decision = SelectField(_l("Decision"), choices=_decision_choices, validate_choice=False)
    response = TextAreaField(
        _l("Response"),
        validators=[Optional(), Length(max=MAX_RESPONSE_LENGTH)],
        description=_l("Required when a comment is rejected or accepted in part."),
    )


class BulkDispositionForm(FlaskForm):
    decision = SelectField(
        _l("Decision for the selected comments"), choices=_decision_choices, validate_choice=False
    )
    response = TextAreaField(
        _l("Response for the selected comments"),
        validators=[Optional(), Length(max=MAX_RESPONSE_LENGTH)],
    )


class PlacementForm(FlaskForm):
    paragraph = SelectField(_l("Place on"), validate_choice=False)
