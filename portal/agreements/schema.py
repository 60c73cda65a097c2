"""The agreement's fields, once: name, type, label, description, example, limits and where each
field appears.

Every outside shape of an agreement reads this list instead of keeping its own copy:

* the staff form (``forms.py``): labels and length limits;
* the bulk import (``portal.imports.validation``): the columns it reads, the required ones,
  the template's example row and the length limits;
* the open-data files (``portal.opendata.dictionary``): the CSV/XLSX columns, the JSON keys,
  the Table Schema in ``datapackage.json`` and the data-dictionary page;
* the JSON API (``portal.api.schemas``): the descriptions in the OpenAPI document, and a test
  that every field marked ``api`` is in the agreement's API shape under the same name;
* the IATI file (``portal.opendata.iati``): ``iati`` names the activity element each field
  becomes, and a test checks that the file writes every one of them.

Because export and import read the same list, a downloaded file imports back: the columns
that are computed by the portal (``derived``: its page address, its IATI identifier) are
accepted and ignored by the import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    Visibility,
)


@dataclass(frozen=True)
class AgreementField:
    name: str  # column, JSON key, form field and API property: the same everywhere
    type: str  # Table Schema type: string, date, number, integer, boolean
    label: LazyString  # short, for form labels
    description: LazyString  # a sentence, for the data dictionary and the API reference
    example: str  # as written in a CSV cell (the import template's example row)
    is_list: bool = False  # several values: a JSON array; in CSV/XLSX joined by ";"
    enum: tuple[str, ...] = ()
    format: str = "default"
    max_length: int | None = None
    required: bool = False  # the import's header must have this column
    imported: bool = True  # the import reads this column
    exported: bool = True  # the open-data files have this column
    derived: bool = False  # computed by the portal: exported, accepted and ignored on import
    api: bool = True  # the API's agreement detail has a property of this name
    iati: str | None = None  # the IATI activity element the value becomes (dates: by status)
    extra: dict[str, Any] = field(default_factory=dict)  # more Table Schema properties


AGREEMENT_SCHEMA: tuple[AgreementField, ...] = (
    AgreementField(
        "reference",
        "string",
        _l("Reference"),
        _l("The organisation's own reference for the agreement; unique."),
        "UNH/2021/LB/001",
        max_length=100,
        required=True,
        iati="other-identifier",
        extra={"constraints": {"required": True, "unique": True}},
    ),
    AgreementField(
        "title",
        "string",
        _l("Title"),
        _l("Title of the agreement."),
        "DeCID handbook: co-designing built environment interventions with children",
        max_length=500,
        required=True,
        iati="title",
    ),
    AgreementField(
        "summary",
        "string",
        _l("Summary"),
        _l("Short description of what the agreement is for."),
        "A practitioners' guide to working with displaced communities.",
        iati="description",
    ),
    AgreementField(
        "agreement_type",
        "string",
        _l("Type"),
        _l("Kind of agreement (code)."),
        "cooperation-agreement",
        enum=tuple(AGREEMENT_TYPES),
        required=True,
    ),
    AgreementField(
        "status",
        "string",
        _l("Status"),
        _l("Where the agreement stands (code); mapped to the IATI activity status."),
        "closed",
        enum=tuple(AGREEMENT_STATUSES),
        required=True,
        iati="activity-status",
    ),
    AgreementField(
        "signed_on",
        "date",
        _l("Signed on"),
        _l("Date of signature (YYYY-MM-DD)."),
        "2021-02-15",
        iati="activity-date",
    ),
    AgreementField(
        "start_on",
        "date",
        _l("Starts on"),
        _l("Start date (YYYY-MM-DD)."),
        "2021-03-01",
        iati="activity-date",
    ),
    AgreementField(
        "end_on",
        "date",
        _l("Ends on"),
        _l("End date (YYYY-MM-DD)."),
        "2021-12-31",
        iati="activity-date",
    ),
    AgreementField(
        "amount",
        "number",
        _l("Amount"),
        _l("Value of the agreement in its currency; never converted or added across currencies."),
        "120000.00",
        iati="transaction",
    ),
    AgreementField(
        "currency",
        "string",
        _l("Currency (ISO 4217)"),
        _l("ISO 4217 code of the value's currency."),
        "USD",
        max_length=3,
        iati="transaction",
    ),
    AgreementField(
        "domain_of_change",
        "integer",
        _l("Strategic plan domain of change"),
        _l("Strategic plan domain of change, 1 to 4."),
        "4",
        extra={
            "constraints": {"minimum": min(DOMAINS_OF_CHANGE), "maximum": max(DOMAINS_OF_CHANGE)}
        },
    ),
    AgreementField(
        "sdg_targets",
        "string",
        _l("SDG targets"),
        _l("Sustainable Development Goal targets the agreement serves."),
        "11.1;11.7",
        is_list=True,
        iati="sector",
    ),
    AgreementField(
        "countries",
        "string",
        _l("Countries"),
        _l("Countries where the agreement is carried out (ISO 3166-1 alpha-2)."),
        "LB",
        is_list=True,
        iati="recipient-country",
    ),
    AgreementField(
        "regions",
        "string",
        _l("Regions"),
        _l("Regions where the agreement is carried out (UN M49 codes)."),
        "145",
        is_list=True,
        iati="recipient-region",
    ),
    AgreementField(
        "parties",
        "string",
        _l("Parties"),
        _l(
            "Partners and their roles (funding, accountable, extending, implementing), as "
            "name|role; a partner that is not public is shown as “Undisclosed partner”."
        ),
        "UN-Habitat|accountable;Catalytic Action|implementing",
        is_list=True,
        iati="participating-org",
    ),
    AgreementField(
        "visibility",
        "string",
        _l("Visibility"),
        _l("Who may see the agreement: public, partners (its parties) or internal (staff)."),
        "public",
        enum=tuple(v.value for v in Visibility),
        required=True,
    ),
    AgreementField(
        "language",
        "string",
        _l("Language of the text"),
        _l("Language of the title and summary (a language tag such as en or fr)."),
        "en",
        exported=False,
        api=False,
    ),
    AgreementField(
        "url",
        "string",
        _l("Page on this portal"),
        _l("The agreement's page on this portal."),
        "https://…",
        format="uri",
        imported=False,
        derived=True,
        api=False,  # the API calls it html_url
    ),
    AgreementField(
        "iati_identifier",
        "string",
        _l("IATI identifier"),
        _l("Identifier of the agreement's activity in the IATI activity file."),
        "XM-DAC-41120-UNH-2021-LB-001",
        imported=False,
        derived=True,
        api=False,
        iati="iati-identifier",
    ),
)

BY_NAME: dict[str, AgreementField] = {f.name: f for f in AGREEMENT_SCHEMA}

# The columns of the open-data files, in order.
EXPORTED: tuple[AgreementField, ...] = tuple(f for f in AGREEMENT_SCHEMA if f.exported)
# The columns the import reads, in order (the import template's header).
IMPORT_COLUMNS: list[str] = [f.name for f in AGREEMENT_SCHEMA if f.imported]
# Columns the import accepts and ignores: the portal computes them (a downloaded file's
# page address and IATI identifier), so a downloaded file can be imported back.
IGNORED_ON_IMPORT: list[str] = [f.name for f in AGREEMENT_SCHEMA if f.derived]
REQUIRED_COLUMNS: list[str] = [f.name for f in AGREEMENT_SCHEMA if f.required]
EXAMPLE_ROW: dict[str, str] = {name: BY_NAME[name].example for name in IMPORT_COLUMNS}
MAX_LENGTHS: dict[str, int] = {f.name: f.max_length for f in AGREEMENT_SCHEMA if f.max_length}


def label(name: str) -> LazyString:
    return BY_NAME[name].label


def max_length(name: str) -> int:
    value = BY_NAME[name].max_length
    if value is None:
        raise KeyError(f"the agreement field {name!r} has no length limit")
    return value


def describe(name: str) -> str:
    """The field's description in English (the API reference and file schemas are English)."""
    from flask import has_app_context
    from flask_babel import force_locale

    if not has_app_context():
        return str(BY_NAME[name].description)  # no catalogue outside the app: the English text
    with force_locale("en"):
        return str(BY_NAME[name].description)
