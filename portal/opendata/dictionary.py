"""The data dictionary: one definition per column, used by every file and by its documentation.

The CSV/XLSX column order, the JSON keys, the Table Schema in ``datapackage.json`` and the
data-dictionary page are all read from ``AGREEMENT_FIELDS`` and ``PARTNER_FIELDS``, so they can
never disagree. ``AGREEMENT_FIELDS`` is the agreement schema (``portal.agreements.schema``) that
the import reads as well: a downloaded agreements file can be edited and imported back by staff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import url_for
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from portal.agreements import schema as agreement_schema
from portal.agreements.models import Agreement
from portal.agreements.queries import UNDISCLOSED  # as on the agreement page
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS, Organization
from portal.partners.permissions import can_view_organization

LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # Table Schema type: string, date, number, integer, boolean
    description: LazyString
    example: str
    # Multi-valued: a JSON array; in CSV/XLSX the values joined by ";".
    is_list: bool = False
    enum: tuple[str, ...] = ()
    format: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)

    def table_schema(self) -> dict[str, Any]:
        """The Frictionless Table Schema field (descriptions in English, the file's language)."""
        from flask_babel import force_locale

        with force_locale("en"):
            description = str(self.description)
        spec: dict[str, Any] = {"name": self.name, "type": self.type, "description": description}
        if self.format != "default":
            spec["format"] = self.format
        if self.enum:
            spec["constraints"] = {"enum": list(self.enum)}
        spec.update(self.extra)
        return spec


# The agreement's columns come from its one schema (``portal.agreements.schema``), which the
# import reads too: a downloaded file imports back.
AGREEMENT_FIELDS: tuple[Field, ...] = tuple(
    Field(
        f.name,
        f.type,
        f.description,
        f.example,
        is_list=f.is_list,
        enum=f.enum,
        format=f.format,
        extra=f.extra,
    )
    for f in agreement_schema.EXPORTED
)

PARTNER_FIELDS: tuple[Field, ...] = (
    Field("name", "string", _l("Name of the organisation."), "City of Quito"),
    Field("acronym", "string", _l("Acronym, if any."), "UCLG"),
    Field(
        "org_type",
        "string",
        _l("IATI organisation type code (10 government … 90 other)."),
        "11",
        enum=tuple(ORG_TYPES),
    ),
    Field("country", "string", _l("Country of the organisation (ISO 3166-1 alpha-2)."), "EC"),
    Field(
        "regions",
        "string",
        _l("Regions the organisation works in (UN M49 codes)."),
        "419;005",
        is_list=True,
    ),
    Field("website", "string", _l("The organisation's website."), "https://…", format="uri"),
    Field(
        "stakeholder_group",
        "string",
        _l("Partner constituent group of the General Assembly of Partners (code)."),
        "local-authorities",
        enum=tuple(STAKEHOLDER_GROUPS),
    ),
    Field("partner_since", "date", _l("Start of the partnership (YYYY-MM-DD)."), "2016-10-20"),
    Field(
        "is_public",
        "boolean",
        _l("Whether the organisation is listed in public (yes or no)."),
        "yes",
        extra={"trueValues": ["yes"], "falseValues": ["no"]},
    ),
    Field("description", "string", _l("What the organisation does."), "…"),
    Field(
        "iati_ref",
        "string",
        _l("The organisation's IATI organisation identifier, if it has one."),
        "XM-DAC-41120",
    ),
    Field(
        "url", "string", _l("The organisation's page on this portal."), "https://…", format="uri"
    ),
)

DATASETS: dict[str, tuple[Field, ...]] = {
    "agreements": AGREEMENT_FIELDS,
    "partners": PARTNER_FIELDS,
}


# --------------------------------------------------------------------------- records


def party_name(org: Organization, viewer) -> str:
    return org.name if can_view_organization(viewer, org) else UNDISCLOSED


def agreement_record(
    agreement: Agreement, viewer, iati_identifier: Callable[[Agreement], str]
) -> dict[str, Any]:
    """The agreement as the viewer may see it, keyed by ``AGREEMENT_FIELDS`` (native types)."""
    parties = []
    for party in agreement.parties:
        visible = can_view_organization(viewer, party.organization)
        parties.append(
            {
                "name": party.organization.name if visible else UNDISCLOSED,
                "role": party.role,
                "url": (
                    url_for("partners.show", org_id=party.organization_id, _external=True)
                    if visible
                    else None
                ),
            }
        )
    return {
        "reference": agreement.reference,
        "title": agreement.title,
        "summary": agreement.summary or "",
        "agreement_type": agreement.agreement_type,
        "status": agreement.status,
        "signed_on": agreement.signed_on,
        "start_on": agreement.start_on,
        "end_on": agreement.end_on,
        "amount": agreement.amount,
        "currency": agreement.currency,
        "domain_of_change": agreement.domain_of_change,
        "sdg_targets": [t.target for t in agreement.sdg_targets],
        "countries": [c.code for c in agreement.countries],
        "regions": [r.code for r in agreement.regions],
        "parties": parties,
        "visibility": agreement.visibility,
        "url": url_for("agreements.show", agreement_id=agreement.id, _external=True),
        "iati_identifier": iati_identifier(agreement),
    }


def partner_record(org: Organization) -> dict[str, Any]:
    return {
        "name": org.name,
        "acronym": org.acronym,
        "org_type": org.org_type,
        "country": org.country_code,
        "regions": [r.code for r in org.regions],
        "website": org.website,
        "stakeholder_group": org.stakeholder_group,
        "partner_since": org.partner_since,
        "is_public": bool(org.is_public and org.archived_at is None),
        "description": org.description or "",
        "iati_ref": org.iati_ref,
        "url": url_for("partners.show", org_id=org.id, _external=True),
    }


def flat_value(name: str, value: Any) -> Any:
    """A record value for one spreadsheet cell (lists joined, parties as name|role)."""
    if name == "parties":
        return LIST_SEPARATOR.join(f"{p['name']}|{p['role']}" for p in value)
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # A JSON number: exact for every amount below 10^13 with its two decimals.
        return float(value)
    return value


# --------------------------------------------------------------------------- datapackage.json

_TITLES = {
    "agreements": "Agreements",
    "partners": "Partners",
}
_DESCRIPTIONS = {
    "agreements": "Every public agreement of the partnership catalogue.",
    "partners": "Every public partner organisation of the partnership catalogue.",
}


def table_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {
        "fields": [f.table_schema() for f in fields],
        "missingValues": [""],
    }


def datapackage_descriptor(*, licence, homepage: str, title: str) -> dict[str, Any]:
    """A Frictionless Data Package (v1) describing every file at /open-data/.

    Paths are relative to ``datapackage.json`` itself, so the package can be read straight from
    the portal or from a directory the files were downloaded into.
    """
    resources: list[dict[str, Any]] = []
    for name, fields in DATASETS.items():
        schema = table_schema(fields)
        resources.append(
            {
                "name": f"{name}-csv",
                "title": f"{_TITLES[name]} (CSV)",
                "description": _DESCRIPTIONS[name],
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig",
                "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "header": True},
                "schema": schema,
            }
        )
        resources.append(
            {
                "name": f"{name}-xlsx",
                "title": f"{_TITLES[name]} (Excel)",
                "description": _DESCRIPTIONS[name] + " The second sheet is the data dictionary.",
                "path": f"{name}.xlsx",
                "profile": "tabular-data-resource",
                "format": "xlsx",
                "mediatype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "dialect": {"sheet": name},
                "schema": schema,
            }
        )
        resources.append(
            {
                "name": f"{name}-json",
                "title": f"{_TITLES[name]} (JSON)",
                "description": _DESCRIPTIONS[name]
                + " An object whose 'data' array holds one object per row, with the CSV's "
                "columns as keys and lists as arrays.",
                "path": f"{name}.json",
                "format": "json",
                "mediatype": "application/json",
                "encoding": "utf-8",
            }
        )
    resources.append(
        {
            "name": "iati-activities",
            "title": "IATI activities",
            "description": "Every public agreement as an IATI 2.03 activity.",
            "path": "iati/activities.xml",
            "format": "xml",
            "mediatype": "application/xml",
            "encoding": "utf-8",
            "sources": [
                {
                    "title": "IATI Standard 2.03",
                    "path": "https://iatistandard.org/en/iati-standard/203/",
                }
            ],
        }
    )
    resources.append(
        {
            "name": "iati-organisations",
            "title": "IATI organisations",
            "description": "The publisher and every public partner as IATI 2.03 organisations.",
            "path": "iati/organisations.xml",
            "format": "xml",
            "mediatype": "application/xml",
            "encoding": "utf-8",
        }
    )
    return {
        "profile": "data-package",
        "name": "partnership-catalogue",
        "title": f"{title} partnership catalogue",
        "description": "Partners and agreements of the public partnership catalogue, in CSV, "
        "Excel and JSON, and as IATI 2.03 activity and organisation files.",
        "homepage": homepage,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "licenses": [licence.as_dict()],
        "resources": resources,
    }
