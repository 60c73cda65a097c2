"""/insights: the picture of the partnership — charts, a world map, their tables and downloads.

One set of filters (the agreement list's, plus the currency that value charts show) applies to
every chart, the map, the totals and every download link on the page.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select

from portal.agreements import catalogue_index
from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    Agreement,
)
from portal.agreements.permissions import visible_agreements_filter
from portal.agreements.queries import AgreementFilters
from portal.extensions import db
from portal.insights.charts import fmt_int, fmt_money
from portal.insights.presenting import build_picture
from portal.insights.queries import SDG_GOAL_NAMES, build_insights, sdg_goal_label
from portal.partners.models import Country
from portal.partners.place_names import place_name
from portal.partners.queries import RegionTree

bp = Blueprint("insights", __name__, url_prefix="/insights")
bp.add_app_template_filter(fmt_int, "num")
bp.add_app_template_filter(lambda value, currency: fmt_money(value, currency), "money_whole")

FILTER_ARGS = ("type", "status", "year", "region", "country", "domain", "sdg", "party", "q")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


def country_numerics() -> dict[str, tuple[str, str | None]]:
    """ISO numeric → (alpha-2, region code) for every country (a few hundred rows)."""
    return {
        numeric: (code, region)
        for code, numeric, region in db.session.execute(
            select(Country.code, Country.numeric, Country.region_code)
        )
    }


def filter_args(filters: AgreementFilters) -> dict[str, str]:
    """The accepted filters as query arguments (ignored bad values are not carried on)."""
    values = {
        "type": filters.agreement_type,
        "status": filters.status,
        "year": filters.year,
        "region": filters.region,
        "country": filters.country,
        "domain": filters.domain,
        "sdg": filters.sdg,
        "party": filters.party,
        "q": filters.q,
    }
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


def read_filters(tree: RegionTree) -> tuple[AgreementFilters, str | None]:
    filters = AgreementFilters.from_args(request.args, current_user, tree)
    raw = (request.args.get("currency") or "").strip().upper()
    currency = None
    if raw:
        if CURRENCY_PATTERN.fullmatch(raw):
            currency = raw
        else:
            filters.problems.append(
                _("A currency is three letters, like USD; the value charts use another.")
            )
    return filters, currency


def _load(tree: RegionTree):
    filters, currency = read_filters(tree)
    insights = build_insights(filters, current_user, tree, currency=currency)
    if currency and insights.currency != currency:
        filters.problems.append(
            _(
                "No agreement here has a value in %(currency)s; showing %(shown)s.",
                currency=currency,
                shown=insights.currency or "—",
            )
        )
    return filters, insights


def _picture(insights, tree, kind: str, filters):
    """The charts and map for ``filters``, focused on their region or country."""
    return build_picture(
        insights,
        tree,
        kind,
        focus_region=filters.region,
        focus_country_numeric=_numeric_of(filters.country),
        all_countries=country_numerics(),
    )


@bp.route("/")
def index():
    tree = RegionTree.load()

    def context() -> dict:
        filters, insights = _load(tree)
        args = filter_args(filters)
        return dict(
            filters=filters,
            picture=_picture(insights, tree, "insights", filters),
            options=form_options(filters, tree),
            args=args,
            downloads=_downloads(args),
        )

    # Charts, map, tables and the filter form are the same for every reader who sees the same
    # catalogue, in the same language, with the same query: kept with the catalogue snapshot.
    scope = (date.today().toordinal(), request.query_string)
    body = catalogue_index.render_kept("insights-page", scope, "insights/_index_body.html", context)
    return render_template("insights/index.html", body_html=body)


def _map_picture():
    """The filters of the request and the world map for them (no charts)."""
    tree = RegionTree.load()
    filters, _currency = read_filters(tree)
    insights = build_insights(filters, current_user, tree, only=set())
    return filters, _picture(insights, tree, "map", filters)


@bp.route("/map")
def world_map_page():
    filters, picture = _map_picture()
    args = filter_args(filters)
    return render_template(
        "insights/map.html",
        filters=filters,
        picture=picture,
        args=args,
        svg_url=url_for("insights.world_map_svg", **args),
    )


@bp.route("/map.svg")
def world_map_svg():
    _filters, picture = _map_picture()
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(picture.map.svg)
    response = Response(body, mimetype="image/svg+xml")
    response.headers["X-Content-Type-Options"] = "nosniff"
    _private_if_signed_in(response)
    return response


@bp.route("/figures.csv")
def figures_csv():
    """Every chart's figures as one long CSV: dimension, key, label, agreements, currency, value."""
    tree = RegionTree.load()
    filters, insights = _load(tree)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["dimension", "key", "label", "count", "unit", "currency", "value"])
    for b in insights.breakdowns:
        for row in b.rows:
            if b.has_values and row.values:
                for cur, value in sorted(row.values.items()):
                    writer.writerow(
                        [b.name, row.key, row.label, row.count, b.unit, cur, f"{value:.2f}"]
                    )
            else:
                writer.writerow([b.name, row.key, row.label, row.count, b.unit, "", ""])
    for c in insights.countries:
        writer.writerow(["country", c.code, c.name, c.count, "agreements", "", ""])
    for cur, n, total in insights.totals.by_currency:
        writer.writerow(["total", cur, cur, n, "agreements", cur, f"{total:.2f}"])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="insights-{date.today().isoformat()}.csv"'
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    _private_if_signed_in(response)
    return response


def signature_years(user) -> tuple[int | None, int | None]:
    """The first and last year of signature among the agreements the reader may see."""
    snap = catalogue_index.snapshot()
    if snap is not None:
        years = snap.year[snap.visible(user)]
        years = years[years > 0]
        return (int(years.min()), int(years.max())) if len(years) else (None, None)
    first, last = db.session.execute(
        select(func.min(Agreement.signed_on), func.max(Agreement.signed_on)).where(
            visible_agreements_filter(user)
        )
    ).one()
    return (first.year if first else None, last.year if last else None)


def form_options(filters: AgreementFilters, tree: RegionTree) -> dict[str, list[tuple]]:
    """Choices for the filter form: (value, label, depth, selected). No counts here — the page
    itself is the count of everything, and facet counts would cost more than all the charts."""
    first, last = signature_years(current_user)
    years = list(range(last, first - 1, -1)) if first and last else []
    if filters.year and filters.year not in years:
        years.insert(0, filters.year)
    countries = sorted(
        (
            (code, place_name(name))
            for code, name in db.session.execute(select(Country.code, Country.name))
        ),
        key=lambda c: c[1].casefold(),
    )
    sdgs = [(str(goal), sdg_goal_label(goal), 0) for goal in SDG_GOAL_NAMES]
    if filters.sdg and "." in filters.sdg:
        sdgs.append((filters.sdg, filters.sdg, 1))
    parties = []
    if filters.party_org is not None:
        parties.append((str(filters.party_org.id), filters.party_org.name, 0))

    def mark(items, current):
        return [(v, label, depth, v == str(current or "")) for v, label, depth in items]

    return {
        "type": mark([(k, str(v), 0) for k, v in AGREEMENT_TYPES.items()], filters.agreement_type),
        "status": mark([(k, str(v), 0) for k, v in AGREEMENT_STATUSES.items()], filters.status),
        "year": mark([(str(y), str(y), 0) for y in years], filters.year),
        "region": mark(
            [(r.code, place_name(r.name), depth) for r, depth in tree.walk()], filters.region
        ),
        "country": mark([(c, n, 0) for c, n in countries], filters.country),
        "domain": mark(
            [(str(k), f"{k}. {v}", 0) for k, v in DOMAINS_OF_CHANGE.items()], filters.domain
        ),
        "sdg": mark(sdgs, filters.sdg),
        "party": mark(parties, filters.party),
    }


def _downloads(args: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (_("Figures of every chart (CSV)"), url_for("insights.figures_csv", **args)),
        (_("The agreements behind them (CSV)"), url_for("agreements.index", format="csv", **args)),
        (_("The map (SVG)"), url_for("insights.world_map_svg", **args)),
        (_("The agreements behind them (list)"), url_for("agreements.index", **args)),
    ]


def scoped_picture(tree: RegionTree, **scope):
    """The map and charts of a region, country or partner page: the same figures as /insights
    with that one filter (``region=``, ``country=`` or ``party=``), visibility applied."""
    filters = AgreementFilters.from_args({k: str(v) for k, v in scope.items()}, current_user, tree)
    insights = build_insights(filters, current_user, tree)
    return _picture(insights, tree, "scoped", filters)


def scoped_picture_html(tree: RegionTree, heading: str, **scope) -> Markup:
    """The rendered picture section of a region, country or partner page, kept with the
    catalogue snapshot per (reader, language, scope): its map and charts are the same for
    everyone who sees the same catalogue, and any change to the catalogue starts a new one."""

    def context() -> dict:
        return dict(picture=scoped_picture(tree, **scope), scope_args=scope, heading=heading)

    scope_key = tuple(sorted((k, str(v)) for k, v in scope.items()))
    return catalogue_index.render_kept(
        "scoped-picture", (scope_key, heading), "insights/_scoped_picture.html", context
    )


def _numeric_of(alpha2: str | None) -> str | None:
    if not alpha2:
        return None
    country = db.session.get(Country, alpha2)
    return country.numeric if country else None


def _private_if_signed_in(response: Response) -> None:
    # Figures for a signed-in viewer may include non-public agreements: keep them out of caches.
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "private, no-store"
