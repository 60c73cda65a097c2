"""Forms for consultations. They only parse; the rules live in services.py, whose errors are
attached back to these fields (``apply_service_errors``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    MeetingMode,
    MeetingStatus,
    MemberRole,
)
from portal.core.content_language import language_choices
from portal.core.forms import choice_list
from portal.partners.models import STAKEHOLDER_GROUPS

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

MODE_LABELS = {
    MeetingMode.IN_PERSON.value: _l("In person"),
    MeetingMode.ONLINE.value: _l("Online"),
    MeetingMode.HYBRID.value: _l("Hybrid"),
}
STATUS_LABELS = {
    MeetingStatus.DRAFT.value: _l("Draft"),
    MeetingStatus.SCHEDULED.value: _l("Scheduled"),
    MeetingStatus.HELD.value: _l("Held"),
    MeetingStatus.CANCELLED.value: _l("Cancelled"),
}
ROLE_LABELS = {
    MemberRole.CHAIR.value: _l("Chair"),
    MemberRole.MEMBER.value: _l("Member"),
    MemberRole.OBSERVER.value: _l("Observer"),
    MemberRole.SECRETARIAT.value: _l("Secretariat"),
}
RSVP_LABELS = {
    "pending": _l("No answer yet"),
    "accepted": _lp("invitation answer", "Accepted"),
    "tentative": _l("Tentative"),
    "declined": _l("Declined"),
}


class MultiCheckboxField(SelectMultipleField):
    """A multi-select shown as checkboxes: usable without JavaScript and labelled per option."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired()])
    description = TextAreaField(_l("Description"))
    is_public = BooleanField(
        _l("Public group (meetings and minutes visible to everyone)"), default=True
    )


class MemberForm(FlaskForm):
    email = StringField(_l("User e-mail"), validators=[InputRequired()])
    role = SelectField(
        _l("Role"), choices=choice_list(ROLE_LABELS.items()), default=MemberRole.MEMBER.value
    )
    organization_id = SelectField(_l("Organisation represented"), choices=[], validate_choice=False)
    constituency = SelectField(
        _l("Constituency"),
        choices=choice_list([("", "—"), *STAKEHOLDER_GROUPS.items()]),
        validate_choice=False,
    )


class MeetingForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired()])
    group_id = SelectField(_l("Advisory group"), coerce=int, validate_choice=False)
    description = TextAreaField(_l("Description"))
    # The language of the title and description (WCAG 3.1.2); "detect" leaves it to the text.
    language = SelectField(
        _l("Language of the text"),
        validate_choice=False,
        description=_l("Screen readers read the text in this language."),
    )
    engagement_areas = MultiCheckboxField(
        _l("Engagement areas"),
        choices=choice_list(ENGAGEMENT_AREAS.items()),
        validate_choice=False,
    )
    starts_local = DateTimeLocalField(
        _l("Starts (local time)"), format=LOCAL_FORMATS, validators=[InputRequired()]
    )
    ends_local = DateTimeLocalField(
        _l("Ends (local time)"), format=LOCAL_FORMATS, validators=[InputRequired()]
    )
    # The service checks the name against zoneinfo, with a clearer message than
    # "Not a valid choice".
    timezone = SelectField(_l("Time zone"), default="UTC", validate_choice=False)
    mode = SelectField(_l("Mode"), choices=choice_list(MODE_LABELS.items()), validate_choice=False)
    location = StringField(_l("Place"))
    online_url = StringField(_l("Online meeting link"))
    capacity = IntegerField(_l("In-person seats"), validators=[Optional()])
    agenda_cutoff_local = DateTimeLocalField(
        _l("Agenda proposals close (local time)"), format=LOCAL_FORMATS, validators=[Optional()]
    )
    reminder_days = IntegerField(_l("Reminder (days before)"), default=2, validators=[Optional()])
    status = SelectField(
        _l("Status"), choices=choice_list(STATUS_LABELS.items()), validate_choice=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class AgendaItemForm(FlaskForm):
    title = StringField(_l("Item title"), validators=[InputRequired()])
    description = TextAreaField(_l("Details"))
    presenter = StringField(_l("Presenter"))
    duration_minutes = IntegerField(_l("Duration (minutes)"), validators=[Optional()])


class DecisionForm(FlaskForm):
    decision = HiddenField()
    note = TextAreaField(_l("Note to the member"))


class AgendaDocumentForm(FlaskForm):
    title = StringField(_l("Document title"))
    file = FileField(_l("File"))


class InviteForm(FlaskForm):
    scope = RadioField(
        _l("Whom to invite"),
        choices=choice_list([("group", _l("The whole group")), ("chosen", _l("Chosen members"))]),
        default="group",
    )
    members = MultiCheckboxField(_l("Members"), coerce=int, choices=[], validate_choice=False)


class RsvpForm(FlaskForm):
    response = RadioField(
        _l("Your answer"),
        choices=choice_list(
            [
                ("accepted", _l("Accept")),
                ("tentative", _l("Tentative")),
                ("declined", _l("Decline")),
            ]
        ),
        validate_choice=False,
    )
    attendance = RadioField(
        _l("How will you attend?"),
        choices=choice_list([("in-person", _l("In person")), ("online", _l("Online"))]),
        validate_choice=False,
    )
    comment = TextAreaField(_l("Comment"))


class TimezoneForm(FlaskForm):
    timezone = SelectField(_l("Show meeting times in"), validate_choice=False)
