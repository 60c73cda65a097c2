"""Forms for the record of a meeting: minutes, outcomes, progress notes.

Forms parse input into Python types; the rules live in records_services.py and its errors are
put back beside their fields. The attendance register is one form with a select per person;
its rows are dynamic, so the view reads them (``status-<user id>``) and this module only
provides the CSRF-carrying shell.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.accounts.models import User
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    GroupMember,
    Meeting,
    OutcomeKind,
    OutcomeStatus,
)
from portal.consultations.records_permissions import staff_accounts_filter
from portal.consultations.records_services import MAX_NOTE_CHARS, OutcomeData
from portal.core.content_language import language_choices
from portal.core.forms import choice_list
from portal.extensions import db
from portal.partners.models import Organization

ATTENDANCE_LABELS = {
    "present": _l("Present"),
    "absent": _l("Absent"),
    "excused": _l("Excused (apologies)"),
}
OUTCOME_KIND_LABELS = {
    OutcomeKind.RECOMMENDATION.value: _l("Recommendation"),
    OutcomeKind.ACTION.value: _l("Action item"),
}
OUTCOME_STATUS_LABELS = {
    OutcomeStatus.OPEN.value: _l("Open"),
    OutcomeStatus.IN_PROGRESS.value: _l("In progress"),
    OutcomeStatus.DONE.value: _l("Done"),
    OutcomeStatus.DROPPED.value: _l("Dropped"),
}


class MinutesForm(FlaskForm):
    body = TextAreaField(_l("Minutes (Markdown)"), validators=[Optional()])
    # The language of the minutes (WCAG 3.1.2); "detect" leaves it to the text.
    language = SelectField(
        _l("Language of the text"),
        validate_choice=False,
        description=_l("Screen readers read the text in this language."),
    )
    # The version the editor started from: a save against a newer version is refused.
    version = HiddenField(validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class TransitionForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def owner_choices(meeting: Meeting) -> list[tuple[str, str]]:
    """Current members of the group first, then staff; owners may be either."""
    members = db.session.scalars(
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(
            GroupMember.group_id == meeting.group_id,
            GroupMember.left_on.is_(None),
            User.active.is_(True),
        )
        .order_by(User.name)
    ).all()
    staff = db.session.scalars(
        select(User).where(staff_accounts_filter()).order_by(User.name)
    ).all()
    seen: set[int] = set()
    choices = [("", "—")]
    for user in [*members, *staff]:
        if user.id not in seen:
            seen.add(user.id)
            choices.append((str(user.id), user.name))
    return choices


def organization_choices(meeting: Meeting) -> list[tuple[str, str]]:
    """Organisations the group's members speak for first, then every other live organisation."""
    represented = db.session.scalars(
        select(Organization)
        .join(GroupMember, GroupMember.organization_id == Organization.id)
        .where(GroupMember.group_id == meeting.group_id, GroupMember.left_on.is_(None))
        .distinct()
        .order_by(Organization.name)
    ).all()
    others = db.session.scalars(
        select(Organization).where(Organization.archived_at.is_(None)).order_by(Organization.name)
    ).all()
    seen: set[int] = set()
    choices = [("", "—")]
    for org in [*represented, *others]:
        if org.id not in seen:
            seen.add(org.id)
            choices.append((str(org.id), org.name))
    return choices


class OutcomeForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        choices=choice_list(OUTCOME_KIND_LABELS.items()),
        validators=[DataRequired()],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20_000)])
    engagement_area = SelectField(
        _l("Engagement area"),
        choices=choice_list([("", "—"), *ENGAGEMENT_AREAS.items()]),
        validators=[Optional()],
    )
    owner_id = SelectField(_l("Owner"), coerce=_int_or_none, validators=[Optional()])
    owner_organization_id = SelectField(
        _l("Owner organisation"), coerce=_int_or_none, validators=[Optional()]
    )
    due_on = DateField(_l("Due date"), validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=choice_list(OUTCOME_STATUS_LABELS.items()),
        validators=[DataRequired()],
    )
    note = TextAreaField(
        _l("Note (recorded with this change)"), validators=[Optional(), Length(max=MAX_NOTE_CHARS)]
    )

    def set_choices(self, meeting: Meeting) -> None:
        self.owner_id.choices = choice_list(owner_choices(meeting))
        self.owner_organization_id.choices = choice_list(organization_choices(meeting))

    def to_data(self) -> OutcomeData:
        return OutcomeData(
            kind=self.kind.data,
            title=self.title.data or "",
            description=self.description.data or "",
            engagement_area=self.engagement_area.data or None,
            owner_id=self.owner_id.data,
            owner_organization_id=self.owner_organization_id.data,
            due_on=self.due_on.data,
            status=self.status.data,
            note=self.note.data or "",
        )


class ProgressNoteForm(FlaskForm):
    body = TextAreaField(_l("Progress note"), validators=[Optional(), Length(max=MAX_NOTE_CHARS)])
    status = SelectField(
        _l("New status"),
        choices=choice_list([("", _l("— no change —")), *OUTCOME_STATUS_LABELS.items()]),
        validators=[Optional()],
    )
