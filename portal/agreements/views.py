"""Agreement pages: the public list (with its open-data downloads), agreement pages, documents.

Routes are grouped by audience (public pages first); staff routes are appended below them.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.agreements import documents
from portal.agreements.models import (
    DOMAINS_OF_CHANGE,
    IATI_ACTIVITY_STATUS,
    Agreement,
    AgreementDocument,
    AgreementParty,
    Visibility,
)
from portal.agreements.permissions import can_view_agreement, can_view_document
from portal.agreements.queries import (
    AgreementFilters,
    agreement_facets,
    agreements_query,
    indexed_page_ids,
)
from portal.core.guard import can
from portal.core.pagination import Page, page_args, page_of_ids, paginate
from portal.core.security import safe_document_type
from portal.extensions import db
from portal.partners.permissions import can_view_organization
from portal.partners.queries import RegionTree

# ?format= values a list page answers with a download (portal/opendata/views.py).
DOWNLOAD_FORMATS = ("csv", "xlsx", "json")

bp = Blueprint("agreements", __name__, url_prefix="/agreements")


def endpoint_url(endpoint: str, **values) -> str | None:
    """``url_for`` for an endpoint another module may or may not have registered yet."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def get_visible_agreement_or_404(agreement_id: int) -> Agreement:
    """404, never 403, for an agreement the viewer may not see: existence stays private."""
    agreement = db.session.get(
        Agreement,
        agreement_id,
        options=[
            selectinload(Agreement.parties).selectinload(AgreementParty.organization),
            selectinload(Agreement.countries),
            selectinload(Agreement.regions),
            selectinload(Agreement.sdg_targets),
            selectinload(Agreement.documents),
        ],
    )
    if agreement is None or not can_view_agreement(current_user, agreement):
        abort(404)
    return agreement


# --------------------------------------------------------------------------- Public pages


def list_page(filters: AgreementFilters, stmt, tree: RegionTree) -> Page:
    """One page of the list: ids and total from the catalogue index when it can answer (no
    free text), then only that page's rows from the database; otherwise SQL throughout."""
    page_number, per_page = page_args()
    indexed = indexed_page_ids(filters, current_user, tree, page_number, per_page)
    if indexed is None:
        return paginate(stmt.options(selectinload(Agreement.countries)), page_number, per_page)
    ids, total, page_number = indexed
    return page_of_ids(
        Agreement, ids, total, page_number, per_page, selectinload(Agreement.countries)
    )


@bp.route("/")
def index():
    tree = RegionTree.load()
    filters = AgreementFilters.from_args(request.args, current_user, tree)
    stmt = agreements_query(filters, current_user, tree)
    fmt = request.args.get("format")
    if fmt in DOWNLOAD_FORMATS:
        from portal.opendata.views import list_download  # opendata builds on this module

        # The filtered list as open data, with the viewer's own permissions (docs/open-data.md).
        return list_download("agreements", fmt, stmt)
    page = list_page(filters, stmt, tree)
    return render_template(
        "agreements/index.html",
        filters=filters,
        page=page,
        facets=agreement_facets(filters, current_user, tree),
    )


@bp.route("/<int:agreement_id>")
def show(agreement_id: int):
    agreement = get_visible_agreement_or_404(agreement_id)
    parties = [
        (party, can_view_organization(current_user, party.organization))
        for party in agreement.parties
    ]
    return render_template(
        "agreements/show.html",
        agreement=agreement,
        parties=parties,
        iati_status=IATI_ACTIVITY_STATUS.get(agreement.status),
        domain_label=DOMAINS_OF_CHANGE.get(agreement.domain_of_change or 0),
        is_public=agreement.visibility == Visibility.PUBLIC.value,
        edit_url=endpoint_url("agreements.edit", agreement_id=agreement.id)
        if can("edit_agreement", agreement)
        else None,
    )


@bp.route("/<int:agreement_id>/documents/<int:doc_id>")
def download_document(agreement_id: int, doc_id: int):
    agreement = db.session.get(Agreement, agreement_id)
    if agreement is None or not can_view_document(current_user, agreement):
        abort(404)
    doc = db.session.get(AgreementDocument, doc_id)
    if doc is None or doc.agreement_id != agreement.id:
        abort(404)
    response = documents.send_stored(
        doc.stored_name,
        mimetype=safe_document_type(doc.content_type),
        download_name=doc.filename,
        what=f"Document {doc.id} of agreement {agreement.id}",
    )
    if agreement.visibility != Visibility.PUBLIC.value or agreement.archived_at is not None:
        # Restricted files must not linger in shared caches.
        response.headers["Cache-Control"] = "private, no-store"
    return response
