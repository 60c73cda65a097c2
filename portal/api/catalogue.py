"""The partnership catalogue as JSON: organisations, agreements, regions, countries.

Lists take the filters and sort orders of the pages, built by the same query functions
(``portal.partners.queries``, ``portal.agreements.queries``), so the API and the directory
can never disagree about what a filter means or who may see a record: every builder applies
the visibility rules of ``permissions.py`` for the caller itself. Detail endpoints load their
record through the pages' own ``get_visible_*_or_404`` helpers: 404, never 403, for a record
the caller may not see, so existence stays private.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.agreements.models import (
    DOMAINS_OF_CHANGE,
    IATI_ACTIVITY_STATUS,
    PARTY_ROLES,
    Agreement,
)
from portal.agreements.permissions import can_view_agreement
from portal.agreements.queries import (
    AgreementFilters,
    agreement_counts_by_country,
    agreement_counts_by_region,
    agreements_query,
    organization_parties,
)
from portal.agreements.views import get_visible_agreement_or_404
from portal.api import schemas as s
from portal.api.openapi import OPTIONAL_AUTH, TAGS, api_response, spec
from portal.api.views import bp
from portal.core.guard import can
from portal.core.pagination import Page, paginate
from portal.extensions import db
from portal.partners.models import Country, Organization, Region
from portal.partners.permissions import can_view_organization
from portal.partners.place_names import place_name
from portal.partners.queries import (
    WORLD,
    PartnerFilters,
    RegionTree,
    agreement_counts_for,
    partner_counts_by_country,
    partner_counts_by_region,
    partners_query,
)
from portal.partners.regions_views import region_countries
from portal.partners.views import get_visible_organization_or_404


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


def _page_args(query: s._Query) -> dict[str, str]:
    """The validated query as the string mapping the pages' ``Filters.from_args`` read."""
    return {
        name: str(value)
        for name, value in query.model_dump(mode="json", exclude_none=True).items()
        if name not in ("page", "per_page")
    }


def _refuse(problems: list[str]) -> None:
    """The pages ignore a filter they cannot use and say so; the API refuses the request.
    (The query models already refuse what the pages would ignore: this is the net.)"""
    if problems:
        abort(400, description=" ".join(problems))


def _listing(shape, page: Page, item: Callable[[Any], Any]):
    """Every list answer: one page of items and where it stands (``Pagination``)."""
    return shape(
        total=page.total,
        page=page.page,
        per_page=page.per_page,
        pages=page.pages,
        items=[item(x) for x in page.items],
    )


def _page_of_list(items: list, query) -> Page:
    """One page of a list built in memory (regions, countries), like ``paginate(clamp=False)``
    pages a query: a page past the end is empty."""
    start = (query.page - 1) * query.per_page
    return Page(
        items=items[start : start + query.per_page],
        total=len(items),
        page=query.page,
        per_page=query.per_page,
    )


def _place_lists(**place: str) -> dict[str, str]:
    """A place's partners and agreements are one link away: the filtered lists."""
    return {
        "organizations_url": _url("api.list_organizations", **place),
        "agreements_url": _url("api.list_agreements", **place),
    }


def _coded(code: str | None, labels) -> s.Coded | None:
    if code is None:
        return None
    return s.Coded(code=str(code), label=str(labels.get(code, code)))


def _country_ref(country: Country | None) -> s.PlaceRef | None:
    if country is None:
        return None
    return s.PlaceRef(
        code=country.code,
        name=place_name(country.name),
        api_url=_url("api.get_country", alpha2=country.code),
    )


def _region_ref(region: Region) -> s.PlaceRef:
    return s.PlaceRef(
        code=region.code,
        name=place_name(region.name),
        api_url=_url("api.get_region", code=region.code),
    )


# --------------------------------------------------------------------------- organisations


def _organization_summary(org: Organization, agreement_count: int) -> dict:
    return dict(
        id=org.id,
        name=org.name,
        acronym=org.acronym,
        org_type=s.Coded(code=org.org_type, label=str(org.org_type_label)),
        stakeholder_group=(
            s.Coded(code=org.stakeholder_group, label=str(org.stakeholder_group_label))
            if org.stakeholder_group
            else None
        ),
        country=_country_ref(org.country),
        partner_since=org.partner_since,
        is_public=org.is_public,
        agreement_count=agreement_count,
        api_url=_url("api.get_organization", org_id=org.id),
        html_url=_url("partners.show", org_id=org.id),
    )


@bp.get("/organizations")
@spec.validate(
    query=s.OrganizationQuery,
    resp=api_response(s.OrganizationList, 400, 401),
    tags=[TAGS["organizations"]],
    security=OPTIONAL_AUTH,
    operation_id="listOrganizations",
)
def list_organizations():
    """List organisations

    The partner directory: the organisations you may see, filtered and sorted as on
    `/partners/`. `total` counts every match; `items` holds one page of them.
    """
    query: s.OrganizationQuery = request.context.query
    tree = RegionTree.load()
    filters = PartnerFilters.from_args(_page_args(query), tree)
    _refuse(filters.problems)
    page = paginate(
        partners_query(filters, current_user, tree), query.page, query.per_page, clamp=False
    )
    counts = agreement_counts_for(current_user, [o.id for o in page.items])
    return _listing(
        s.OrganizationList,
        page,
        lambda org: s.OrganizationSummary(**_organization_summary(org, counts.get(org.id, 0))),
    )


@bp.get("/organizations/<int(min=1):org_id>")
@spec.validate(
    resp=api_response(s.OrganizationDetail, 401, 404),
    tags=[TAGS["organizations"]],
    security=OPTIONAL_AUTH,
    operation_id="getOrganization",
    path_parameter_descriptions={"org_id": "The organisation's id."},
)
def get_organization(org_id: int):
    """One organisation

    Its profile, the regions it serves, its public focal points (staff see every contact)
    and the agreements you may see in which it is a party, with its roles.
    """
    org = get_visible_organization_or_404(org_id)
    agreements = organization_parties(org, current_user)
    return s.OrganizationDetail(
        **_organization_summary(org, len(agreements)),
        iati_ref=org.iati_ref,
        website=org.website,
        description=org.description or "",
        regions_served=[_region_ref(r) for r in org.regions],
        contacts=[
            s.ContactOut(name=c.name, position=c.position, email=c.email, phone=c.phone)
            for c in org.contacts
            if can("view_contact", c)
        ],
        agreements=[
            s.OrganizationAgreementRef(
                id=agreement.id,
                reference=agreement.reference,
                title=agreement.title,
                roles=[s.Coded(code=p.role, label=str(p.role_label)) for p in parties],
                api_url=_url("api.get_agreement", agreement_id=agreement.id),
            )
            for agreement, parties in agreements
        ],
    )


# --------------------------------------------------------------------------- agreements


def _agreement_summary(a: Agreement) -> dict:
    return dict(
        id=a.id,
        reference=a.reference,
        title=a.title,
        agreement_type=s.Coded(code=a.agreement_type, label=str(a.type_label)),
        status=s.Coded(code=a.status, label=str(a.status_label)),
        iati_activity_status=IATI_ACTIVITY_STATUS.get(a.status),
        signed_on=a.signed_on,
        start_on=a.start_on,
        end_on=a.end_on,
        amount=f"{a.amount:.2f}" if a.amount is not None else None,
        currency=a.currency,
        domain_of_change=_coded(a.domain_of_change, DOMAINS_OF_CHANGE),
        visibility=a.visibility,
        countries=[_country_ref(c) for c in a.countries],
        api_url=_url("api.get_agreement", agreement_id=a.id),
        html_url=_url("agreements.show", agreement_id=a.id),
    )


@bp.get("/agreements")
@spec.validate(
    query=s.AgreementQuery,
    resp=api_response(s.AgreementList, 400, 401),
    tags=[TAGS["agreements"]],
    security=OPTIONAL_AUTH,
    operation_id="listAgreements",
)
def list_agreements():
    """List agreements

    The agreements you may see, filtered and sorted as on `/agreements/`. `total` counts
    every match; `items` holds one page of them.
    """
    query: s.AgreementQuery = request.context.query
    tree = RegionTree.load()
    filters = AgreementFilters.from_args(_page_args(query), current_user, tree)
    if query.party is not None and filters.party is None:
        # An unknown partner, or one the caller may not see: a filter that matches nothing
        # (the page ignores it instead; the API must not answer as if it were not there).
        page = _page_of_list([], query)
    else:
        _refuse(filters.problems)
        stmt = agreements_query(filters, current_user, tree).options(
            selectinload(Agreement.countries)
        )
        page = paginate(stmt, query.page, query.per_page, clamp=False)
    return _listing(s.AgreementList, page, lambda a: s.AgreementSummary(**_agreement_summary(a)))


@bp.get("/agreements/<int(min=1):agreement_id>")
@spec.validate(
    resp=api_response(s.AgreementDetail, 401, 404),
    tags=[TAGS["agreements"]],
    security=OPTIONAL_AUTH,
    operation_id="getAgreement",
    path_parameter_descriptions={"agreement_id": "The agreement's id."},
)
def get_agreement(agreement_id: int):
    """One agreement

    Everything its page shows: parties with their IATI roles (a party you may not see is
    an undisclosed partner, without name or id), countries, regions, SDG targets and the
    documents you may download.
    """
    agreement = get_visible_agreement_or_404(agreement_id)
    parties = []
    for party in agreement.parties:
        visible = can_view_organization(current_user, party.organization)
        parties.append(
            s.PartyOut(
                organization_id=party.organization_id if visible else None,
                name=party.organization.name if visible else _("Undisclosed partner"),
                undisclosed=not visible,
                role=s.Coded(code=party.role, label=str(PARTY_ROLES.get(party.role, party.role))),
                api_url=(
                    _url("api.get_organization", org_id=party.organization_id) if visible else None
                ),
            )
        )
    documents = []
    if can_view_agreement(current_user, agreement):  # documents follow their agreement
        documents = [
            s.DocumentOut(
                id=d.id,
                title=d.title,
                filename=d.filename,
                content_type=d.content_type,
                size=d.size,
                download_url=_url(
                    "agreements.download_document", agreement_id=agreement.id, doc_id=d.id
                ),
            )
            for d in agreement.documents
        ]
    return s.AgreementDetail(
        **_agreement_summary(agreement),
        summary=agreement.summary or "",
        regions=[_region_ref(r) for r in agreement.regions],
        sdg_targets=[t.target for t in agreement.sdg_targets],
        parties=parties,
        documents=documents,
    )


# --------------------------------------------------------------------------- regions


def _region_summary(region: Region, partners: dict, agreements: dict) -> dict:
    return dict(
        code=region.code,
        name=place_name(region.name),
        level=region.level,
        parent_code=region.parent_code,
        partner_count=partners.get(region.code, 0),
        agreement_count=agreements.get(region.code, 0),
        api_url=_url("api.get_region", code=region.code),
        html_url=_url("regions.show", code=region.code),
    )


@bp.get("/regions")
@spec.validate(
    query=s.RegionQuery,
    resp=api_response(s.RegionList, 400, 401),
    tags=[TAGS["places"]],
    security=OPTIONAL_AUTH,
    operation_id="listRegions",
)
def list_regions():
    """List regions

    The UN M49 regions in tree order (as on `/regions/`), each with the partners and
    agreements you may see in it, sub-regions included.
    """
    query: s.RegionQuery = request.context.query
    tree = RegionTree.load()
    regions = [tree.get(WORLD)] + [region for region, _depth in tree.walk()]
    regions = [r for r in regions if r is not None]
    if query.parent is not None:
        regions = [r for r in regions if r.parent_code == query.parent.value]
    if query.level is not None:
        regions = [r for r in regions if r.level == query.level]
    partners = partner_counts_by_region(current_user)
    agreements = agreement_counts_by_region(current_user)
    return _listing(
        s.RegionList,
        _page_of_list(regions, query),
        lambda r: s.RegionSummary(**_region_summary(r, partners, agreements)),
    )


@bp.get("/regions/<code>")
@spec.validate(
    resp=api_response(s.RegionDetail, 401, 404),
    tags=[TAGS["places"]],
    security=OPTIONAL_AUTH,
    operation_id="getRegion",
    path_parameter_descriptions={"code": "UN M49 code, zero-padded (002, 419)."},
)
def get_region(code: str):
    """One region

    The region with its path from the continent, its sub-regions and the countries its
    page lists (for a region with sub-regions: those with something you may see), each
    with counts. The partners and agreements themselves are one link away
    (`organizations_url`, `agreements_url`).
    """
    tree = RegionTree.load()
    region = tree.get(code)
    if region is None:
        abort(404)
    partners = partner_counts_by_region(current_user)
    agreements = agreement_counts_by_region(current_user)
    countries, partners_by_country, agreements_by_country = region_countries(
        tree, region.code, current_user
    )
    return s.RegionDetail(
        **_region_summary(region, partners, agreements),
        path=[_region_ref(r) for r in tree.path(region.code)],
        subregions=[
            s.RegionSummary(**_region_summary(r, partners, agreements))
            for r in tree.children.get(region.code, [])
        ],
        countries=[
            s.CountrySummary(
                **_country_summary(c, tree, partners_by_country, agreements_by_country)
            )
            for c in countries
        ],
        **_place_lists(region=region.code),
    )


# --------------------------------------------------------------------------- countries


def _country_summary(country: Country, tree: RegionTree, partners: dict, agreements: dict):
    region = tree.get(country.region_code)
    return dict(
        code=country.code,
        alpha3=country.alpha3,
        numeric=country.numeric,
        name=place_name(country.name),
        region=_region_ref(region) if region is not None else None,
        partner_count=partners.get(country.code, 0),
        agreement_count=agreements.get(country.code, 0),
        api_url=_url("api.get_country", alpha2=country.code),
        html_url=_url("regions.country", alpha2=country.code),
    )


@bp.get("/countries")
@spec.validate(
    query=s.CountryQuery,
    resp=api_response(s.CountryList, 400, 401),
    tags=[TAGS["places"]],
    security=OPTIONAL_AUTH,
    operation_id="listCountries",
)
def list_countries():
    """List countries

    ISO 3166 countries by name in your language, each with the partners (head office) and
    agreements you may see there.
    """
    query: s.CountryQuery = request.context.query
    tree = RegionTree.load()
    stmt = select(Country)
    if query.region is not None:
        stmt = stmt.where(Country.region_code.in_(tree.subtree_codes(query.region.value)))
    countries = list(db.session.scalars(stmt))
    partners = partner_counts_by_country(current_user)
    agreements = agreement_counts_by_country(current_user)
    if query.q:
        needle = query.q.strip().casefold()
        countries = [
            c
            for c in countries
            if needle in c.name.casefold() or needle in place_name(c.name).casefold()
        ]
    if query.active is not None:
        countries = [
            c
            for c in countries
            if bool(partners.get(c.code) or agreements.get(c.code)) == query.active
        ]
    countries.sort(key=lambda c: (place_name(c.name).casefold(), c.code))
    return _listing(
        s.CountryList,
        _page_of_list(countries, query),
        lambda c: s.CountrySummary(**_country_summary(c, tree, partners, agreements)),
    )


@bp.get("/countries/<alpha2>")
@spec.validate(
    resp=api_response(s.CountryDetail, 401, 404),
    tags=[TAGS["places"]],
    security=OPTIONAL_AUTH,
    operation_id="getCountry",
    path_parameter_descriptions={"alpha2": "ISO 3166-1 alpha-2 code (KE, BR)."},
)
def get_country(alpha2: str):
    """One country

    The country with its M49 region path and the partners and agreements you may see
    there (counts, and links to the filtered lists).
    """
    country = db.session.get(Country, alpha2.upper()) if len(alpha2) == 2 else None
    if country is None:
        abort(404)
    tree = RegionTree.load()
    partners = partner_counts_by_country(current_user, [country.code])
    agreements = agreement_counts_by_country(current_user, [country.code])
    path = tree.path(country.region_code) if country.region_code else []
    region = tree.get(country.region_code)
    return s.CountryDetail(
        **_country_summary(country, tree, partners, agreements),
        path=[_region_ref(r) for r in [*path, *([region] if region else [])]],
        **_place_lists(country=country.code),
    )
