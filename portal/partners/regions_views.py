"""Region pages: the UN M49 tree with counts, a region's partners and agreements, a country's.

Counts include descendant regions and only what the viewer may see.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.agreements import catalogue_index
from portal.agreements.models import Agreement
from portal.agreements.permissions import visible_agreements_filter
from portal.agreements.queries import (
    AgreementFilters,
    agreement_counts_by_country,
    agreement_counts_by_region,
    agreement_in_country,
    agreement_in_region,
    indexed_page_ids,
)
from portal.core.pagination import page_of_ids, paginate
from portal.extensions import db
from portal.insights.views import scoped_picture_html
from portal.partners.models import Country, Organization
from portal.partners.permissions import visible_organizations_filter
from portal.partners.place_names import place_name
from portal.partners.queries import (
    WORLD,
    PartnerFilters,
    RegionTree,
    agreement_counts_for,
    indexed_directory_page,
    organization_in_region,
    partner_counts_by_country,
    partner_counts_by_region,
)

bp = Blueprint("regions", __name__, url_prefix="/regions")

# Region and country pages show a preview; the full, filterable list is one link away.
PREVIEW_SIZE = 20


def _partners_preview(filters: PartnerFilters, *conditions):
    """The first partners of a region or country page, by name (the directory's order)."""
    indexed = indexed_directory_page(filters, current_user, 1, PREVIEW_SIZE)
    if indexed is not None:
        ids, total, _page = indexed
        return page_of_ids(
            Organization, ids, total, 1, PREVIEW_SIZE, selectinload(Organization.country)
        )
    stmt = (
        select(Organization)
        .where(visible_organizations_filter(current_user), *conditions)
        .options(selectinload(Organization.country))
        .order_by(func.lower(Organization.name), Organization.id)
    )
    return paginate(stmt, page=1, per_page=PREVIEW_SIZE)


def _agreements_preview(filters: AgreementFilters, tree: RegionTree, *conditions):
    """The newest agreements of a region or country page (the list's default order)."""
    indexed = indexed_page_ids(filters, current_user, tree, 1, PREVIEW_SIZE)
    if indexed is not None:
        ids, total, _page = indexed
        return page_of_ids(
            Agreement, ids, total, 1, PREVIEW_SIZE, selectinload(Agreement.countries)
        )
    stmt = (
        select(Agreement)
        .where(visible_agreements_filter(current_user), *conditions)
        .options(selectinload(Agreement.countries))
        .order_by(Agreement.signed_on.desc().nulls_last(), Agreement.id.desc())
    )
    return paginate(stmt, page=1, per_page=PREVIEW_SIZE)


def region_countries(
    tree: RegionTree, code: str, user
) -> tuple[list[Country], dict[str, int], dict[str, int]]:
    """The countries a region page lists, alphabetical in the reader's language, with the
    partners and agreements the viewer may see in each. A region with sub-regions (a
    continent has dozens of countries) lists only those with something to show."""
    codes = tree.subtree_codes(code)
    countries = sorted(
        db.session.scalars(select(Country).where(Country.region_code.in_(codes))),
        key=lambda country: place_name(country.name).casefold(),
    )
    country_codes = [c.code for c in countries]
    partners_by_country = partner_counts_by_country(user, country_codes)
    agreements_by_country = agreement_counts_by_country(user, country_codes)
    if tree.children.get(code):
        countries = [
            c
            for c in countries
            if partners_by_country.get(c.code) or agreements_by_country.get(c.code)
        ]
    return countries, partners_by_country, agreements_by_country


# --------------------------------------------------------------------------- Public pages


@bp.route("/")
def index():
    tree = RegionTree.load()
    return render_template(
        "regions/index.html",
        tree=tree,
        root=WORLD,
        partner_counts=partner_counts_by_region(current_user),
        agreement_counts=agreement_counts_by_region(current_user),
    )


@bp.route("/<code>")
def show(code: str):
    tree = RegionTree.load()
    region = tree.get(code)
    if region is None:
        abort(404)
    # Everything on the page comes from the catalogue: the same for every reader of a class.
    body = catalogue_index.render_kept(
        "region-page", (region.code,), "regions/_show_body.html", lambda: _region_page(tree, region)
    )
    return render_template("regions/show.html", region=region, body_html=body)


def _region_page(tree: RegionTree, region) -> dict:
    codes = tree.subtree_codes(region.code)
    partners = _partners_preview(PartnerFilters(region=region.code), organization_in_region(codes))
    agreements = _agreements_preview(
        AgreementFilters(region=region.code), tree, agreement_in_region(codes)
    )
    countries, partners_by_country, agreements_by_country = region_countries(
        tree, region.code, current_user
    )
    is_leaf = not tree.children.get(region.code)
    return dict(
        region=region,
        path=tree.path(region.code),
        subregions=tree.children.get(region.code, []),
        partner_counts=partner_counts_by_region(current_user),
        agreement_counts=agreement_counts_by_region(current_user),
        countries=countries,
        is_leaf=is_leaf,
        partners_by_country=partners_by_country,
        agreements_by_country=agreements_by_country,
        partners=partners,
        partner_agreement_counts=agreement_counts_for(current_user, [o.id for o in partners.items]),
        agreements=agreements,
        picture_html=scoped_picture_html(
            tree,
            _("The picture in %(region)s", region=place_name(region.name)),
            region=region.code,
        ),
    )


@bp.route("/country/<alpha2>")
def country(alpha2: str):
    country = db.session.get(Country, alpha2.upper()) if len(alpha2) == 2 else None
    if country is None:
        abort(404)
    tree = RegionTree.load()
    body = catalogue_index.render_kept(
        "country-page",
        (country.code,),
        "regions/_country_body.html",
        lambda: _country_page(tree, country),
    )
    return render_template("regions/country.html", country=country, body_html=body)


def _country_page(tree: RegionTree, country: Country) -> dict:
    partners = _partners_preview(
        PartnerFilters(country=country.code), Organization.country_code == country.code
    )
    return dict(
        country=country,
        region=tree.get(country.region_code),
        path=tree.path(country.region_code) if country.region_code else [],
        partners=partners,
        partner_agreement_counts=agreement_counts_for(current_user, [o.id for o in partners.items]),
        agreements=_agreements_preview(
            AgreementFilters(country=country.code), tree, agreement_in_country(country.code)
        ),
        picture_html=scoped_picture_html(
            tree,
            _("The picture in %(country)s", country=place_name(country.name)),
            country=country.code,
        ),
    )
