"""Forms for staff editing agreements and uploading documents.

Parties are edited without JavaScript: a fixed number of (organisation, role) rows, blank rows
ignored. The rules live in ``portal/agreements/services.py``; these forms only parse.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.agreements import schema as S
from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    PARTY_ROLES,
    Agreement,
    Visibility,
)
from portal.agreements.services import AgreementData, parse_sdg_targets
from portal.core.content_language import language_choices
from portal.core.forms import choice_list
from portal.extensions import db
from portal.partners.forms import country_choices, region_choices
from portal.partners.models import Organization

PARTY_ROWS = 6  # blank rows offered on a new agreement; edits get two spare rows

VISIBILITY_LABELS = {
    Visibility.PUBLIC.value: _l("Public — anyone"),
    Visibility.PARTNERS.value: _l("Partners — staff and the parties' members"),
    Visibility.INTERNAL.value: _l("Internal — staff only"),
}


class OrganizationField(SelectField):
    """A select of every organisation, checked against a set of the valid values.

    wtforms checks a choice by building a ``Choice`` object for every option of every row;
    with 1,000+ organisations in six party rows that was 7,000 objects per save — and the
    garbage collections they triggered were most of a save's worst-case time
    (docs/benchmarks.md, "Rebuild speed and staff saves"). The form sets ``valid_values``
    once for all rows; without it, wtforms' own check runs."""

    valid_values: frozenset[str] | None = None

    def pre_validate(self, form):
        if self.valid_values is None or self.process_errors or not self.validate_choice:
            return super().pre_validate(form)
        if self.data not in self.valid_values:
            # Refused: wtforms' own check raises its own (translated) message.
            super().pre_validate(form)


class PartyForm(Form):
    """One party row. A plain wtforms.Form: the CSRF token belongs to the outer form."""

    organization_id = OrganizationField(_l("Organisation"), validate_choice=True)
    role = SelectField(_l("Role"), validate_choice=True)

    def validate_role(self, field):
        if self.organization_id.data and not field.data:
            raise ValidationError(_l("Choose the organisation's role."))
        if field.data and not self.organization_id.data:
            raise ValidationError(_l("Choose an organisation for this role."))


def organization_choices(keep_ids: set[int] | None = None) -> list[tuple[str, str]]:
    """Active organisations by name (plus archived ones already on the agreement)."""
    # The five columns a label needs, not 1,000+ mapped objects.
    stmt = select(
        Organization.id,
        Organization.name,
        Organization.acronym,
        Organization.country_code,
        Organization.archived_at,
    ).order_by(Organization.name, Organization.country_code)
    choices = [("", "—")]
    for org_id, name, acronym, country_code, archived_at in db.session.execute(stmt):
        if archived_at is not None and org_id not in (keep_ids or set()):
            continue
        label = name + (f" ({acronym})" if acronym else "")
        if country_code:
            label += f" — {country_code}"
        choices.append((str(org_id), label))
    return choices


class AgreementForm(FlaskForm):
    # Labels and limits come from the agreement schema, which the import, the open-data files
    # and the API read too.
    reference = StringField(
        S.label("reference"), validators=[DataRequired(), Length(max=S.max_length("reference"))]
    )
    title = StringField(
        S.label("title"), validators=[DataRequired(), Length(max=S.max_length("title"))]
    )
    summary = TextAreaField(S.label("summary"))
    language = SelectField(
        S.label("language"),
        validate_choice=False,
        description=_l("Screen readers read the text in this language."),
    )
    agreement_type = SelectField(S.label("agreement_type"), validators=[DataRequired()])
    status = SelectField(S.label("status"), validators=[DataRequired()])
    visibility = SelectField(S.label("visibility"), validators=[DataRequired()])
    signed_on = DateField(S.label("signed_on"), validators=[Optional()])
    start_on = DateField(S.label("start_on"), validators=[Optional()])
    end_on = DateField(S.label("end_on"), validators=[Optional()])
    amount = DecimalField(S.label("amount"), places=2, validators=[Optional()])
    currency = StringField(
        S.label("currency"), validators=[Optional(), Length(max=S.max_length("currency"))]
    )
    domain_of_change = SelectField(S.label("domain_of_change"))
    sdg_targets = StringField(S.label("sdg_targets"))
    countries = SelectMultipleField(S.label("countries"))
    regions = SelectMultipleField(S.label("regions"))
    parties = FieldList(FormField(PartyForm), min_entries=PARTY_ROWS)

    def __init__(self, *args, party_org_ids: set[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement_type.choices = choice_list([("", "—")] + list(AGREEMENT_TYPES.items()))
        self.status.choices = choice_list([("", "—")] + list(AGREEMENT_STATUSES.items()))
        self.visibility.choices = choice_list(VISIBILITY_LABELS.items())
        self.language.choices = language_choices()
        self.domain_of_change.choices = choice_list(
            [("", "—")] + [(str(k), f"{k}. {v}") for k, v in DOMAINS_OF_CHANGE.items()]
        )
        self.countries.choices = choice_list(country_choices())
        self.regions.choices = choice_list(region_choices())
        orgs = organization_choices(party_org_ids)
        org_values = frozenset(value for value, _label in orgs)
        roles = [("", "—")] + list(PARTY_ROLES.items())
        for row in self.parties:
            row.form.organization_id.choices = orgs
            row.form.organization_id.valid_values = org_values
            row.form.role.choices = roles

    def to_data(self) -> AgreementData:
        domain = self.domain_of_change.data
        return AgreementData(
            reference=self.reference.data or "",
            title=self.title.data or "",
            agreement_type=self.agreement_type.data or "",
            status=self.status.data or "",
            summary=self.summary.data or "",
            language=self.language.data or None,
            signed_on=self.signed_on.data,
            start_on=self.start_on.data,
            end_on=self.end_on.data,
            amount=self.amount.data,
            currency=self.currency.data,
            domain_of_change=int(domain) if domain and domain.isdigit() else None,
            visibility=self.visibility.data or "",
            countries=list(self.countries.data or []),
            regions=list(self.regions.data or []),
            sdg_targets=parse_sdg_targets(self.sdg_targets.data),
            parties=[
                (int(row.organization_id.data), row.role.data)
                for row in self.parties
                if row.organization_id.data and row.role.data
            ],
        )

    @classmethod
    def for_agreement(cls, agreement: Agreement) -> AgreementForm:
        """The edit form, filled from the agreement so that saving it untouched changes nothing.

        Only ``data=`` (no ``obj=``): WTForms gives ``obj`` precedence over keyword data, and the
        model's relationship attributes (countries, regions, sdg_targets) are objects, not the
        codes the fields hold.
        """
        data = AgreementData.from_agreement(agreement)
        values = {
            name: getattr(data, name)
            for name in (
                "reference",
                "title",
                "summary",
                "agreement_type",
                "status",
                "visibility",
                "signed_on",
                "start_on",
                "end_on",
                "amount",
                "currency",
            )
        }
        return cls(
            formdata=None,
            party_org_ids=agreement.party_organization_ids,
            data={
                **values,
                "domain_of_change": str(data.domain_of_change or ""),
                "sdg_targets": "; ".join(data.sdg_targets),
                "countries": data.countries,
                "regions": data.regions,
                "parties": [
                    {"organization_id": str(org_id), "role": role} for org_id, role in data.parties
                ],
            },
        )

    def pad_party_rows(self) -> None:
        """Offer at least PARTY_ROWS rows and two spare ones after the last used row."""
        used = sum(1 for row in self.parties if row.organization_id.data or row.role.data)
        while len(self.parties) < max(PARTY_ROWS, used + 2):
            self.parties.append_entry()
        first = self.parties[0].form
        for row in self.parties:
            row.form.organization_id.choices = first.organization_id.choices
            row.form.role.choices = first.role.choices


class DocumentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))])
