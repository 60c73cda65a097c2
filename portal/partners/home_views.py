"""The home page: the catalogue at a glance — key figures, latest agreements, partners per
continent, the most active partners.

It belongs to the catalogue, not to core; it stays on the ``core`` blueprint so its URL
(``/``) and endpoint (``core.home``, used by the header, the error pages and the login
redirects) are unchanged. Every figure is filtered by the reader's permissions, like the
lists it links to.
"""

from __future__ import annotations

import numpy as np
from flask import render_template
from flask_login import current_user
from sqlalchemy import distinct, func, select

from portal.agreements import catalogue_index
from portal.agreements.models import Agreement, AgreementParty
from portal.agreements.permissions import visible_agreements_filter
from portal.core.pagination import rows_in_order
from portal.core.views import bp
from portal.extensions import db
from portal.partners.models import Organization, Region
from portal.partners.permissions import visible_organizations_filter
from portal.partners.queries import partner_counts_by_region

LATEST = 6  # newest agreements on the home page
TOP_PARTIES = 8  # partners in the most agreements the reader may see


@bp.route("/")
def home():
    # Every figure comes from the catalogue: kept for everyone who sees the same catalogue.
    body = catalogue_index.render_kept("home-page", (), "partners/_home_body.html", _body)
    return render_template("partners/home.html", body_html=body)


def _body() -> dict:
    snap = catalogue_index.snapshot()
    figures, latest, top_parties = _from_index(snap) if snap is not None else _from_sql()
    # Partners per continent: the same count the region page shows (partners based in, or
    # serving, a country or region of the continent), so the link and its target agree.
    per_region = partner_counts_by_region(current_user)
    by_continent = [
        (r, per_region.get(r.code, 0))
        for r in sorted(
            db.session.scalars(select(Region).where(Region.level == 2)), key=lambda r: r.name
        )
    ]
    return dict(figures=figures, latest=latest, by_continent=by_continent, top_parties=top_parties)


def _from_index(snap):
    """The home page's figures from the catalogue index: no scan of the catalogue."""
    visible = snap.visible(current_user)
    orgs = snap.visible_orgs(current_user)
    figures = {
        "partners": int(orgs.sum()),
        "agreements": int(visible.sum()),
        "active": int((visible & (snap.status == snap.statuses.index("active"))).sum()),
        "countries": len({snap.org_country[i] for i in np.flatnonzero(orgs)} - {None}),
    }
    ids = snap.page(visible, "signed", 0, LATEST)
    latest = rows_in_order(Agreement, ids)
    counts = snap.count_by(snap.party, visible)
    counts[~orgs] = 0
    top = [(snap.org_ids[i], int(counts[i])) for i in snap.top_orgs(counts, TOP_PARTIES)]
    loaded = {o.id: o for o in rows_in_order(Organization, [oid for oid, _n in top])}
    return figures, latest, [(loaded[oid], n) for oid, n in top if oid in loaded]


def _from_sql():
    org_filter = visible_organizations_filter(current_user)
    agr_filter = visible_agreements_filter(current_user)
    figures = {
        "partners": db.session.scalar(select(func.count(Organization.id)).where(org_filter)),
        "agreements": db.session.scalar(select(func.count(Agreement.id)).where(agr_filter)),
        "active": db.session.scalar(
            select(func.count(Agreement.id)).where(agr_filter, Agreement.status == "active")
        ),
        "countries": db.session.scalar(
            select(func.count(distinct(Organization.country_code))).where(org_filter)
        ),
    }
    latest = db.session.scalars(
        select(Agreement)
        .where(agr_filter)
        .order_by(Agreement.signed_on.desc().nulls_last(), Agreement.id.desc())
        .limit(LATEST)
    ).all()
    agreements = func.count(distinct(AgreementParty.agreement_id))
    top_parties = db.session.execute(
        select(Organization, agreements.label("n"))
        .join(AgreementParty, AgreementParty.organization_id == Organization.id)
        .join(Agreement, Agreement.id == AgreementParty.agreement_id)
        .where(org_filter, agr_filter)
        .group_by(Organization.id)
        .order_by(agreements.desc(), Organization.name)
        .limit(TOP_PARTIES)
    ).all()
    return figures, latest, [(org, n) for org, n in top_parties]
