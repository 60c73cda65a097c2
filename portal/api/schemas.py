"""The API's request and response shapes, as pydantic models.

They are the single source of ``/api/v1/openapi.json``: spectree turns each model into a JSON
Schema 2020-12 component (the dialect of OpenAPI 3.1), validates query strings against the
query models before a view runs, and the views build their answers from the response models,
so what the document promises is what the code sends.

Enumerations come from the same data the pages validate against — the M49 regions file,
pycountry's countries, the IATI organisation types, the agreement types and statuses — so a
value the schema allows is a value the filters accept.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.agreements.models import AGREEMENT_STATUSES, AGREEMENT_TYPES, PARTY_ROLES, Visibility
from portal.agreements.queries import AGREEMENT_SORTS
from portal.agreements.schema import describe
from portal.partners.models import ORG_TYPES, STAKEHOLDER_GROUPS
from portal.partners.queries import MAX_TEXT_FILTER, PARTNER_SORTS
from portal.partners.reference import country_rows, region_rows
from portal.reviews.models import CommentType
from portal.reviews.services import MAX_COMMENT_CHARS

MAX_PAGE = 10_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25


def _enum(name: str, values) -> type[enum.StrEnum]:
    return enum.StrEnum(name, [(v, v) for v in values])  # type: ignore[return-value]


RegionCode = _enum("RegionCode", sorted(r["code"] for r in region_rows()))
CountryCode = _enum("CountryCode", [c["code"] for c in country_rows()])
OrgTypeCode = _enum("OrgTypeCode", ORG_TYPES)
StakeholderGroupCode = _enum("StakeholderGroupCode", STAKEHOLDER_GROUPS)
AgreementTypeCode = _enum("AgreementTypeCode", AGREEMENT_TYPES)
AgreementStatusCode = _enum("AgreementStatusCode", AGREEMENT_STATUSES)
PartyRoleCode = _enum("PartyRoleCode", PARTY_ROLES)
VisibilityCode = _enum("VisibilityCode", [v.value for v in Visibility])
PartnerSort = _enum("PartnerSort", PARTNER_SORTS)
AgreementSort = _enum("AgreementSort", AGREEMENT_SORTS)

# An SDG goal (11) or target (11.1, 11.a); the goal is 1 to 17 (agreements.queries.SDG_PATTERN).
SDG_REGEX = r"^(1[0-7]|[1-9])(\.([0-9]{1,2}|[a-z]))?$"


class _Query(BaseModel):
    """Query strings: unknown parameters (``lang``, say) are ignored, known ones checked."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    per_page: int = Field(
        DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE, description="Items per page (at most 100)."
    )


class _Out(BaseModel):
    # Every field is always present (null when empty); nothing else ever is.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


# --------------------------------------------------------------------------- shared pieces


class ApiErrorBody(_Out):
    code: int = Field(description="The HTTP status code.", examples=[404])
    message: str = Field(description="What went wrong, in the caller's language.")


class ApiError(_Out):
    """Every error: the status code and a message in the caller's language (Accept-Language)."""

    # ``errors`` only where there are some.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)

    error: ApiErrorBody
    errors: dict[str, str] | None = Field(
        None, description="For 400: a message per parameter or field that was refused."
    )


class Coded(_Out):
    """A code from a fixed list with its label in the caller's language."""

    code: str
    label: str


class PlaceRef(_Out):
    code: str = Field(description="ISO 3166-1 alpha-2 (countries) or UN M49 code (regions).")
    name: str = Field(description="In the caller's language.")
    api_url: str


class Pagination(_Out):
    total: int = Field(description="Items matching the filters that the caller may see.")
    page: int
    per_page: int
    pages: int = Field(description="Number of pages (at least 1).")


# --------------------------------------------------------------------------- organisations


class OrganizationQuery(_Query):
    q: str | None = Field(
        None, max_length=MAX_TEXT_FILTER, description="Text in the name or acronym."
    )
    region: RegionCode | None = Field(  # type: ignore[valid-type]
        None, description="UN M49 region: based in it or serving it (sub-regions included)."
    )
    country: CountryCode | None = Field(None, description="Country of the head office.")  # type: ignore[valid-type]
    org_type: OrgTypeCode | None = Field(None, description="IATI OrganisationType code.")  # type: ignore[valid-type]
    stakeholder_group: StakeholderGroupCode | None = Field(  # type: ignore[valid-type]
        None, description="General Assembly of Partners constituent group."
    )
    sort: PartnerSort = Field(  # type: ignore[valid-type]
        PartnerSort("name"),
        description="name (A–Z), since (oldest partner first), recent (newest first), "
        "agreements (most visible agreements first).",
    )


class OrganizationSummary(_Out):
    id: int
    name: str
    acronym: str | None
    org_type: Coded = Field(description="IATI OrganisationType.")
    stakeholder_group: Coded | None
    country: PlaceRef | None
    partner_since: date | None
    is_public: bool = Field(description="False: seen only by staff and the organisation.")
    agreement_count: int = Field(description="Agreements with it as a party that you may see.")
    api_url: str
    html_url: str


class OrganizationList(Pagination):
    items: list[OrganizationSummary]


class ContactOut(_Out):
    name: str
    position: str | None
    email: str | None
    phone: str | None


class OrganizationAgreementRef(_Out):
    id: int
    reference: str
    title: str
    roles: list[Coded] = Field(description="The organisation's IATI roles in the agreement.")
    api_url: str


class OrganizationDetail(OrganizationSummary):
    iati_ref: str | None = Field(description="IATI organisation identifier.")
    website: str | None
    description: str
    regions_served: list[PlaceRef]
    contacts: list[ContactOut] = Field(
        description="Public focal points; staff see the whole address book."
    )
    agreements: list[OrganizationAgreementRef]


# --------------------------------------------------------------------------- agreements


class AgreementQuery(_Query):
    q: str | None = Field(
        None, max_length=MAX_TEXT_FILTER, description="Text in title or reference."
    )
    agreement_type: AgreementTypeCode | None = Field(None, description="Agreement type.")  # type: ignore[valid-type]
    status: AgreementStatusCode | None = Field(None, description="Agreement status.")  # type: ignore[valid-type]
    year: int | None = Field(None, ge=1900, le=2200, description="Year of signature.")
    region: RegionCode | None = Field(  # type: ignore[valid-type]
        None, description="UN M49 region, directly or through a country (sub-regions included)."
    )
    country: CountryCode | None = Field(None, description="ISO 3166-1 alpha-2 code.")  # type: ignore[valid-type]
    domain: int | None = Field(None, ge=1, le=4, description="Strategic-plan domain of change.")
    sdg: str | None = Field(
        None, pattern=SDG_REGEX, description="An SDG goal (11) or target (11.1, 11.a)."
    )
    party: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="Organisation id. An organisation you may not see matches nothing, exactly "
        "like one that does not exist.",
    )
    sort: AgreementSort = Field(  # type: ignore[valid-type]
        AgreementSort("signed"),
        description="signed (newest first), signed_asc, title, amount (largest first).",
    )


def _agreement(name: str, note: str = ""):
    """An agreement property described by the one agreement schema (``agreements/schema.py``),
    plus what is particular to its JSON shape."""
    return Field(description=f"{describe(name)} {note}".strip())


class AgreementSummary(_Out):
    id: int
    reference: str = _agreement("reference")
    title: str = _agreement("title")
    agreement_type: Coded = _agreement("agreement_type")
    status: Coded = _agreement("status")
    iati_activity_status: str | None = Field(description="IATI ActivityStatus code.")
    signed_on: date | None = _agreement("signed_on")
    start_on: date | None = _agreement("start_on")
    end_on: date | None = _agreement("end_on")
    amount: str | None = Field(
        description=f"{describe('amount')} A decimal string (never a float).",
        examples=["250000.00"],
    )
    currency: str | None = _agreement("currency")
    domain_of_change: Coded | None = _agreement("domain_of_change")
    visibility: VisibilityCode = _agreement("visibility")  # type: ignore[valid-type]
    countries: list[PlaceRef] = _agreement("countries")
    api_url: str
    html_url: str = Field(description=describe("url"))


class AgreementList(Pagination):
    items: list[AgreementSummary]


class PartyOut(_Out):
    organization_id: int | None = Field(
        description="Null for a party you may not see (an undisclosed partner)."
    )
    name: str = Field(description="The organisation's name, or “Undisclosed partner”.")
    undisclosed: bool
    role: Coded
    api_url: str | None


class DocumentOut(_Out):
    id: int
    title: str
    filename: str
    content_type: str
    size: int = Field(description="Bytes.")
    download_url: str


class AgreementDetail(AgreementSummary):
    summary: str = _agreement("summary")
    regions: list[PlaceRef] = _agreement("regions")
    sdg_targets: list[str] = _agreement("sdg_targets")
    parties: list[PartyOut] = _agreement("parties", "Here each party is an object.")
    documents: list[DocumentOut]


# --------------------------------------------------------------------------- regions, countries


class RegionQuery(_Query):
    parent: RegionCode | None = Field(None, description="Only the direct children of a region.")  # type: ignore[valid-type]
    level: int | None = Field(
        None, ge=1, le=4, description="1 world, 2 continent, 3 sub-region, 4 intermediate region."
    )
    per_page: int = Field(
        MAX_PER_PAGE, ge=1, le=MAX_PER_PAGE, description="Items per page (at most 100)."
    )


class RegionSummary(_Out):
    code: str
    name: str = Field(description="In the caller's language.")
    level: int
    parent_code: str | None
    partner_count: int = Field(description="Visible partners, sub-regions included.")
    agreement_count: int = Field(description="Visible agreements, sub-regions included.")
    api_url: str
    html_url: str


class RegionList(Pagination):
    items: list[RegionSummary] = Field(description="In tree order: depth-first, by name.")


class CountryQuery(_Query):
    q: str | None = Field(
        None, max_length=MAX_TEXT_FILTER, description="Text in the name (English or yours)."
    )
    region: RegionCode | None = Field(None, description="Countries in this region.")  # type: ignore[valid-type]
    active: bool | None = Field(
        None, description="true: only countries with a visible partner or agreement."
    )


class CountrySummary(_Out):
    code: str = Field(description="ISO 3166-1 alpha-2.")
    alpha3: str
    numeric: str
    name: str = Field(description="In the caller's language.")
    region: PlaceRef | None
    partner_count: int = Field(description="Visible partners with their head office there.")
    agreement_count: int = Field(description="Visible agreements in the country.")
    api_url: str
    html_url: str


class CountryList(Pagination):
    items: list[CountrySummary] = Field(description="By name in the caller's language.")


class CountryDetail(CountrySummary):
    path: list[PlaceRef] = Field(description="Regions from the continent down.")
    organizations_url: str
    agreements_url: str


class RegionDetail(RegionSummary):
    path: list[PlaceRef] = Field(description="Ancestors from the continent down.")
    subregions: list[RegionSummary]
    countries: list[CountrySummary]
    organizations_url: str
    agreements_url: str


# --------------------------------------------------------------------------- search


class SearchQuery(BaseModel):
    """Documented only: ``portal.search.service.parse_search_args`` reads the query string."""

    q: str | None = Field(None, description="Words to find (at most 1,000 characters used).")
    kind: list[str] | None = Field(
        None,
        description="organization, agreement, paragraph, comment, minutes, agenda or outcome; "
        "repeatable.",
    )
    region: list[str] | None = Field(None, description="M49 codes; repeatable.")
    country: list[str] | None = Field(None, description="ISO alpha-2; repeatable.")
    org_type: list[str] | None = Field(None, description="Repeatable.")
    agreement_type: list[str] | None = Field(None, description="Repeatable.")
    status: list[str] | None = Field(None, description="Repeatable.")
    year: list[str] | None = Field(None, description="Repeatable.")
    domain: list[str] | None = Field(None, description="Repeatable.")
    sort: Literal["relevance", "date"] = "relevance"
    page: int = Field(1, description="Clamped to 1–500.")
    per_page: int = Field(20, description="Clamped to 1–100.")


class SearchHit(_Out):
    id: str = Field(examples=["agreement:42"])
    kind: str
    title: str
    url: str
    snippet: str
    labels: list[str] = Field(
        default_factory=list,
        description="Type, country, stakeholder group… in the language of the request.",
        examples=[["Memorandum of understanding", "Kenya"]],
    )


class SearchResultsOut(_Out):
    total: int
    page: int
    per_page: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = Field(
        description="Per filter parameter: value → number of hits."
    )
    backend: str
    fallback: bool = Field(description="True when the engine failed and the database answered.")
    did_you_mean: str | None = Field(
        description="The corrected query when the best hit matched a word only through a typo"
        " (the typed query with the hit's spelling of that word); null otherwise."
    )


# --------------------------------------------------------------------------- reviews


class ParagraphOut(_Out):
    anchor: str
    number: int | None
    kind: str
    text: str


class ReviewRoundOut(_Out):
    id: int
    title: str
    document: str
    version: int
    state: str
    opens_at: datetime | None
    closes_at: datetime | None
    you_may_comment: bool
    paragraphs: list[ParagraphOut]


class ParagraphRef(_Out):
    anchor: str
    number: int | None


class CommentOut(_Out):
    id: int
    paragraph: ParagraphRef | None
    parent_id: int | None
    author: str
    comment_type: str
    body: str
    proposed_change: str | None
    quote: str | None
    status: str
    created_at: datetime | None
    endorsements: int = Field(
        0, description='How many reviewers endorsed ("+1") the comment (top-level comments).'
    )
    endorsers: list[str] = Field(
        default_factory=list,
        description="Who endorsed it, where the round shows names to you (never in a round "
        "that allows anonymity); otherwise empty.",
    )
    endorsed_by_you: bool = Field(False, description="Whether you endorsed the comment.")


class CommentList(_Out):
    total: int
    comments: list[CommentOut]


class CommentIn(BaseModel):
    """A new comment. Only ``body`` is required; text fields, when sent, are strings."""

    model_config = ConfigDict(extra="allow")

    body: str = Field(
        max_length=MAX_COMMENT_CHARS,
        pattern=r"\S",
        description="The comment: some text, at most 20,000 characters.",
    )
    comment_type: Literal[tuple(t.value for t in CommentType)] = "general"  # type: ignore[valid-type]
    paragraph: str = Field(
        None,
        description="A paragraph's anchor, or its number as printed. Omit it to comment on "
        "the whole document; an unknown paragraph is refused (400).",
    )
    quote: str = Field(None, description="A passage of that paragraph, quoted exactly.")
    proposed_change: str = Field(None, max_length=MAX_COMMENT_CHARS)
    parent_id: int | None = Field(
        None, description="The comment this one answers; an unknown one is refused (400)."
    )
    anonymous: bool = Field(False, description="Only where the round allows it.")
