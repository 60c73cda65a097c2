"""Home page with key figures, and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import distinct, func, select

from portal.agreements.models import Agreement, AgreementParty
from portal.agreements.permissions import visible_agreements_filter
from portal.core.security import safe_next
from portal.extensions import db
from portal.partners.models import Country, Organization, Region
from portal.partners.permissions import visible_organizations_filter

bp = Blueprint("core", __name__)


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
    # Partners per continent: count per country region, then fold each region into its continent.
    region_counts = db.session.execute(
        select(Country.region_code, func.count(Organization.id))
        .select_from(Organization)
        .join(Country, Organization.country_code == Country.code)
        .where(org_filter)
        .group_by(Country.region_code)
    ).all()
    regions = {r.code: r for r in db.session.scalars(select(Region))}
    per_continent: dict[str, int] = {}
    for code, count in region_counts:
        node = regions.get(code)
        while node is not None and node.level > 2:
            node = regions.get(node.parent_code)
        if node is not None:
            per_continent[node.code] = per_continent.get(node.code, 0) + count
    by_continent = [
        (r, per_continent.get(r.code, 0))
        for r in sorted(regions.values(), key=lambda r: r.name)
        if r.level == 2
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
        "core/home.html",
        figures=figures,
        latest=latest,
        by_continent=by_continent,
        top_parties=top_parties,
    )


@bp.route("/lang/<code>")
def set_language(code: str):
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("core.home"))
