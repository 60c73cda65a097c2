"""Partner pages: the public directory and organisation profiles.

Routes are grouped by audience (public pages first); staff routes are appended below them.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from portal.agreements import catalogue_index
from portal.agreements.queries import organization_agreements_page
from portal.core.guard import can
from portal.core.pagination import Page, page_args, page_of_ids, paginate
from portal.extensions import db
from portal.insights.queries import catalogue_currencies, contribution_figures, partner_contribution
from portal.insights.views import scoped_picture_html
from portal.partners.models import Organization
from portal.partners.permissions import can_propose_organization_edit, can_view_organization
from portal.partners.queries import (
    PartnerFilters,
    RegionTree,
    agreement_counts_for,
    indexed_directory_page,
    partner_facets,
    partners_query,
)

# ?format= values a list page answers with a download (portal/opendata/views.py).
DOWNLOAD_FORMATS = ("csv", "xlsx", "json")

bp = Blueprint("partners", __name__, url_prefix="/partners")


def endpoint_url(endpoint: str, **values) -> str | None:
    """``url_for`` for an endpoint another module may or may not have registered yet."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def get_visible_organization_or_404(org_id: int) -> Organization:
    """404, never 403, for an organisation the viewer may not see: existence stays private."""
    org = db.session.get(
        Organization,
        org_id,
        options=[selectinload(Organization.regions), selectinload(Organization.contacts)],
    )
    if org is None or not can_view_organization(current_user, org):
        abort(404)
    return org


# --------------------------------------------------------------------------- Public pages


def directory_page(filters: PartnerFilters, stmt) -> Page:
    """One page of the directory: ids, total and order from the catalogue index when it can
    answer (no free text), then only that page's organisations from the database."""
    page_number, per_page = page_args()
    indexed = indexed_directory_page(filters, current_user, page_number, per_page)
    if indexed is None:
        return paginate(stmt, page_number, per_page)
    ids, total, page_number = indexed
    return page_of_ids(
        Organization, ids, total, page_number, per_page, selectinload(Organization.country)
    )


@bp.route("/")
def directory():
    tree = RegionTree.load()
    filters = PartnerFilters.from_args(request.args, tree)
    currencies = catalogue_currencies(current_user)
    if filters.currency and filters.currency not in currencies:
        filters.problems.append(_("No agreement has a value in that currency."))
        filters.currency = None
    if filters.sort == "value" and not filters.currency:
        filters.currency = currencies[0] if currencies else None
    stmt = partners_query(filters, current_user, tree)
    fmt = request.args.get("format")
    if fmt in DOWNLOAD_FORMATS:
        from portal.opendata.views import list_download  # opendata builds on this module

        # The filtered directory as open data, with the viewer's own permissions.
        return list_download("partners", fmt, stmt)
    page = directory_page(filters, stmt)
    ids = [o.id for o in page.items]
    return render_template(
        "partners/directory.html",
        filters=filters,
        page=page,
        facets=partner_facets(filters, current_user, tree),
        agreement_counts=agreement_counts_for(current_user, ids),
        currencies=currencies,
        contributions=contribution_figures(ids, current_user, filters.currency)
        if filters.sort in ("funding", "implementing", "value")
        else None,
    )


def partner_catalogue_html(org: Organization, tree: RegionTree) -> Markup:
    """The catalogue part of a partner page — its contribution, map and charts, and one page
    of its agreements — rendered once per catalogue snapshot for everyone who sees the same
    catalogue (``viewer_key``: the public, one organisation's members, staff), in the same
    language, on the same day (years of partnership) and page. The rest of the page (the
    profile, contacts, the edit buttons) is per reader and rendered on every request."""
    page_number, per_page = page_args()

    def context() -> dict:
        return dict(
            org=org,
            agreements=organization_agreements_page(org, current_user, page_number, per_page),
            contribution=partner_contribution(org, current_user, tree, date.today()),
            picture_html=scoped_picture_html(
                tree,
                _("Where and on what %(name)s works", name=org.acronym or org.name),
                party=org.id,
            ),
        )

    # The pager's links keep the other query arguments: they are part of the fragment.
    scope = (org.id, date.today().toordinal(), request.query_string)
    return catalogue_index.render_kept("partner-page", scope, "partners/_catalogue.html", context)


@bp.route("/<int:org_id>")
def show(org_id: int):
    org = get_visible_organization_or_404(org_id)
    tree = RegionTree.load()
    propose_edit_url = None
    if can_propose_organization_edit(current_user, org):
        propose_edit_url = endpoint_url("partners.propose_edit", org_id=org.id)
    return render_template(
        "partners/show.html",
        org=org,
        catalogue_html=partner_catalogue_html(org, tree),
        # Focal points marked public are for everyone; the rest of the address book is staff-only.
        contacts=[c for c in org.contacts if can("view_contact", c)],
        propose_edit_url=propose_edit_url,
        edit_url=endpoint_url("partners.edit", org_id=org.id)
        if can("edit_organization", org)
        else None,
    )
