"""Forms for staff editing organisations and partners proposing profile edits.

Forms parse input into Python types; the rules (uniqueness, URL shape, allowed codes) live in
``portal/partners/services.py`` so the API and CLI import apply the same ones. Errors the
service raises are put back beside the matching field by ``portal.core.transaction.attempt``.
"""

from __future__ import annotations

from dataclasses import asdict

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import URLField
from wtforms.validators import DataRequired, Length, Optional

from portal.core.content_language import language_choices
from portal.core.forms import choice_list
from portal.core.transaction import apply_errors
from portal.extensions import db
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS, Country, Organization, Region
from portal.partners.place_names import place_name
from portal.partners.services import OrganizationData


def country_choices() -> list[tuple[str, str]]:
    choices = [(c.code, place_name(c.name)) for c in db.session.scalars(select(Country))]
    return sorted(choices, key=lambda choice: choice[1].casefold())


def region_choices() -> list[tuple[str, str]]:
    """Regions indented by level so the hierarchy shows in a plain <select>."""
    rows = db.session.scalars(select(Region).order_by(Region.level, Region.name)).all()
    children: dict[str | None, list[Region]] = {}
    for r in rows:
        children.setdefault(r.parent_code, []).append(r)
    ordered: list[tuple[str, str]] = []
    indent = "\u2003"  # em space: visible nesting without JavaScript

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda x: place_name(x.name).casefold()):
            ordered.append((r.code, f"{indent * depth}{place_name(r.name)} ({r.code})"))
            walk(r.code, depth + 1)

    walk(None, 0)
    return ordered


def _stakeholder_choices() -> list[tuple[str, str]]:
    return [("", "—")] + list(STAKEHOLDER_GROUPS.items())


class OrganizationForm(FlaskForm):
    name = StringField(_lp("organisation", "Name"), validators=[DataRequired(), Length(max=300)])
    acronym = StringField(_l("Acronym"), validators=[Optional(), Length(max=50)])
    org_type = SelectField(_l("Organisation type (IATI)"), validators=[DataRequired()])
    iati_ref = StringField(
        _l("IATI organisation identifier"), validators=[Optional(), Length(max=100)]
    )
    country_code = SelectField(_l("Country"))
    regions = SelectMultipleField(_l("Regions served"))
    stakeholder_group = SelectField(_l("Stakeholder group"))
    website = URLField(_l("Website"), validators=[Optional(), Length(max=500)])
    description = TextAreaField(_l("Description"))
    language = SelectField(
        _l("Language of the text"),
        validate_choice=False,
        description=_l("Screen readers read the text in this language."),
    )
    partner_since = DateField(_l("Partner since"), validators=[Optional()])
    is_public = BooleanField(_l("Shown in the public directory"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.org_type.choices = choice_list(
            [("", "—")] + [(k, f"{k} — {v}") for k, v in ORG_TYPES.items()]
        )
        self.country_code.choices = choice_list([("", "—")] + country_choices())
        self.regions.choices = choice_list(region_choices())
        self.stakeholder_group.choices = choice_list(_stakeholder_choices())
        self.language.choices = language_choices()

    def to_data(self) -> OrganizationData:
        return OrganizationData(
            name=self.name.data or "",
            org_type=self.org_type.data or "",
            country_code=self.country_code.data or None,
            acronym=self.acronym.data,
            iati_ref=self.iati_ref.data,
            stakeholder_group=self.stakeholder_group.data or None,
            website=self.website.data,
            description=self.description.data or "",
            partner_since=self.partner_since.data,
            is_public=bool(self.is_public.data),
            language=self.language.data or None,
            regions=list(self.regions.data or []),
        )

    @classmethod
    def for_organization(cls, org: Organization) -> OrganizationForm:
        """The edit form filled from the organisation; saving it untouched changes nothing.

        Only ``data=`` (no ``obj=``): WTForms gives ``obj`` precedence over keyword data, and
        ``org.regions`` holds Region objects where the field holds codes.
        """
        data = asdict(OrganizationData.from_organization(org))
        data["country_code"] = data["country_code"] or ""
        data["stakeholder_group"] = data["stakeholder_group"] or ""
        return cls(formdata=None, data=data)


class ProposalForm(FlaskForm):
    """The profile fields a partner member may change, subject to staff approval."""

    acronym = StringField(_l("Acronym"), validators=[Optional(), Length(max=50)])
    website = URLField(_l("Website"), validators=[Optional(), Length(max=500)])
    stakeholder_group = SelectField(_l("Stakeholder group"))
    description = TextAreaField(_l("Description"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stakeholder_group.choices = choice_list(_stakeholder_choices())

    def changes(self) -> dict[str, str | None]:
        return {
            "acronym": self.acronym.data,
            "website": self.website.data,
            "stakeholder_group": self.stakeholder_group.data or None,
            "description": self.description.data,
        }


class ReviewProposalForm(FlaskForm):
    note = TextAreaField(_l("Note to the partner"), validators=[Optional(), Length(max=2000)])


# Kept for the modules not yet moved: ``portal.core.transaction.apply_errors`` is the one copy.
apply_service_errors = apply_errors
