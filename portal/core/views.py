"""Home page with key figures, and the language switch."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import distinct, func, select

from portal.agreements.models import Agreement, AgreementParty
from portal.agreements.permissions import visible_agreements_filter
from portal.core.security import safe_next
from portal.extensions import db
from portal.partners.models import Organization, Region
from portal.partners.permissions import visible_organizations_filter
from portal.partners.queries import partner_counts_by_region

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


@bp.route("/favicon.ico")
def favicon():
    """Browsers and feed readers ask for /favicon.ico whatever the page's <link rel=icon>."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )
