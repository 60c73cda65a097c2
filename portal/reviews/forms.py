"""Forms of the review pages (Flask-WTF: CSRF on; errors shown beside the fields)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.core.content_language import language_choices
from portal.reviews.models import AudienceKind, CommentType

COMMENT_TYPES = [
    SelectChoice(CommentType.GENERAL.value, _l("General")),
    SelectChoice(CommentType.TECHNICAL.value, _l("Technical")),
    SelectChoice(CommentType.EDITORIAL.value, _l("Editorial")),
]
LANGS = [
    SelectChoice("", _l("(not set)")),
    SelectChoice("en", "English"),
    SelectChoice("fr", "Français"),
    SelectChoice("es", "Español"),
    SelectChoice("ru", "Русский"),
    SelectChoice("zh", "中文"),
    SelectChoice("ar", "العربية"),
]


def timezone_choices(current: str | None = None) -> list[tuple[str, str]]:
    """Zones by their names in the reader's language (portal/core/dates.py)."""
    from portal.core.dates import timezone_choices as localised

    return [SelectChoice(value, label) for value, label in localised(current)]


class DocumentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    lang = SelectField(_l("Language of the text"), choices=LANGS, validators=[Optional()])
    file = FileField(
        _l("Draft (.docx or .md)"), validators=[FileRequired(_l("Choose a file to upload."))]
    )
    changelog = TextAreaField(_l("What is in this version"), validators=[Optional()])


class VersionForm(FlaskForm):
    file = FileField(
        _l("New version (.docx or .md)"), validators=[FileRequired(_l("Choose a file to upload."))]
    )
    changelog = TextAreaField(
        _l("Changes in this version"),
        validators=[DataRequired(_l("Say what changed: reviewers read this first."))],
    )


class PublishForm(FlaskForm):
    pass


class RoundForm(FlaskForm):
    title = StringField(_l("Title of the round"), validators=[DataRequired(), Length(max=300)])
    instructions = TextAreaField(_l("Instructions for reviewers"), validators=[Optional()])
    audience_kind = SelectField(
        _l("Who reviews"),
        choices=[
            SelectChoice(AudienceKind.ALL_PARTNERS.value, _l("All partners")),
            SelectChoice(AudienceKind.GROUPS.value, _l("Members of chosen advisory groups")),
            SelectChoice(
                AudienceKind.ORGANIZATIONS.value,
                _l("Organisations by region, type or stakeholder group"),
            ),
            SelectChoice(AudienceKind.EMAILS.value, _l("A list of e-mail addresses (upload)")),
            SelectChoice(
                AudienceKind.PUBLIC.value,
                _l("The public: anyone may read; anyone with an account may comment"),
            ),
        ],
    )
    group_ids = SelectMultipleField(_l("Advisory groups"), coerce=int, validators=[Optional()])
    regions = SelectMultipleField(
        _l("Regions (including their sub-regions)"), validators=[Optional()]
    )
    org_types = SelectMultipleField(_l("Organisation types"), validators=[Optional()])
    stakeholder_groups = SelectMultipleField(_l("Stakeholder groups"), validators=[Optional()])
    emails_file = FileField(_l("E-mail addresses (CSV or TXT, one per line)"))
    timezone = SelectField(_l("Time zone"), default="UTC")
    opens_at = DateTimeLocalField(
        _l("Opens"),
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(_l("When does the round open?"))],
    )
    closes_at = DateTimeLocalField(
        _l("Closes"),
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(_l("When does the round close?"))],
    )
    reminder_days = IntegerField(
        _l("Remind those who have not commented, days before closing (0 = no reminder)"),
        default=3,
        validators=[Optional(), NumberRange(min=0, max=60)],
    )
    reviewers_see_each_other = BooleanField(_l("Reviewers see each other's comments"))
    allow_anonymous = BooleanField(
        _l("Reviewers may stay anonymous to other reviewers (staff always see who)")
    )
    allow_endorsements = BooleanField(
        _l("Reviewers may endorse (“+1”) other reviewers' comments while the round is open")
    )
    also_public = BooleanField(
        _l(
            "Also open to the public: anyone may read the draft and the published comments, "
            "and anyone with an account may comment"
        ),
        description=_l(
            "With invited groups, organisations or addresses: they still get their invitations."
        ),
    )


class CommentForm(FlaskForm):
    paragraph = HiddenField()  # the paragraph's anchor; empty = the whole document
    reply_to = HiddenField()
    quote = TextAreaField(
        _l("Passage you comment on (optional)"),
        validators=[Optional(), Length(max=5000)],
        description=_l(
            "Copy the exact words from the paragraph, or select them in the text before opening "
            "this form. Leave empty to comment on the whole paragraph."
        ),
    )
    quote_start = HiddenField()
    quote_end = HiddenField()
    comment_type = SelectField(_l("Type"), choices=COMMENT_TYPES, default=CommentType.GENERAL.value)
    body = TextAreaField(_l("Comment"), validators=[DataRequired(_l("Write your comment."))])
    proposed_change = TextAreaField(_l("Proposed change (optional)"), validators=[Optional()])
    # The language the comment is written in (WCAG 3.1.2); "detect" leaves it to the text.
    language = SelectField(
        _l("Language of the text"),
        validate_choice=False,
        description=_l("Screen readers read the text in this language."),
    )
    anonymous = BooleanField(_l("Do not show my name to other reviewers"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class EditCommentForm(FlaskForm):
    comment_type = SelectField(_l("Type"), choices=COMMENT_TYPES)
    body = TextAreaField(_l("Comment"), validators=[DataRequired(_l("Write your comment."))])
    proposed_change = TextAreaField(_l("Proposed change (optional)"), validators=[Optional()])


class HideCommentForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is it hidden? (the author is told)"),
        validators=[DataRequired(_l("Say why the comment is hidden; its author is told."))],
    )


class AddReviewersForm(FlaskForm):
    """Reviewers added to an opened round: any mix of groups, organisations and addresses."""

    group_ids = SelectMultipleField(_l("Advisory groups"), coerce=int, validators=[Optional()])
    regions = SelectMultipleField(
        _l("Regions (including their sub-regions)"), validators=[Optional()]
    )
    org_types = SelectMultipleField(_l("Organisation types"), validators=[Optional()])
    stakeholder_groups = SelectMultipleField(_l("Stakeholder groups"), validators=[Optional()])
    emails_file = FileField(_l("E-mail addresses (CSV or TXT, one per line)"))


class DeadlineForm(FlaskForm):
    """A new closing time, in the round's time zone (moving the deadline, reopening)."""

    closes_at = DateTimeLocalField(
        _l("Closes"),
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(_l("When does the round close?"))],
    )


class JoinForm(FlaskForm):
    """A visitor's request to take part in a public consultation (``joining``)."""

    email = EmailField(_l("Your e-mail address"), validators=[DataRequired(), Length(max=254)])
    accept_terms = BooleanField(
        _l(
            "I accept the terms of this consultation: my comments and the secretariat's answers "
            "are published here, with my name and organisation unless I comment anonymously "
            "where the round allows it."
        )
    )
