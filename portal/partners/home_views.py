"""The home page: the catalogue at a glance — key figures, latest agreements, partners per
continent, the most active partners.

It belongs to the catalogue, not to core; it stays on the ``core`` blueprint so its URL
(``/``) and endpoint (``core.home``, used by the header, the error pages and the login
redirects) are unchanged. Every figure is filtered by the reader's permissions, like the
lists it links to.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from sqlalchemy import distinct, func, select

from portal.agreements.models import Agreement, AgreementParty
from portal.agreements.permissions import visible_agreements_filter
from portal.core.views import bp
from portal.extensions import db
from portal.partners.models import Organization, Region
from portal.partners.permissions import visible_organizations_filter
from portal.partners.queries import partner_counts_by_region


@bp.route("/")
def home():
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
        .limit(6)
    ).all()
    # Partners per continent: the same count the region page shows (partners based in, or
    # serving, a country or region of the continent), so the link and its target agree.
    per_region = partner_counts_by_region(current_user)
    by_continent = [
        (r, per_region.get(r.code, 0))
        for r in sorted(
            db.session.scalars(select(Region).where(Region.level == 2)), key=lambda r: r.name
        )
    ]
    top_parties = db.session.execute(
        select(Organization, func.count(AgreementParty.agreement_id).label("n"))
        .join(AgreementParty, AgreementParty.organization_id == Organization.id)
        .join(Agreement, Agreement.id == AgreementParty.agreement_id)
        .where(org_filter, agr_filter)
        .group_by(Organization.id)
        .order_by(func.count(AgreementParty.agreement_id).desc(), Organization.name)
        .limit(8)
    ).all()
    return render_template(
        "partners/home.html",
        figures=figures,
        latest=latest,
        by_continent=by_continent,
        top_parties=top_parties,
    )
