"""The search page and the as-you-type suggestions. Thin: parse → ``run_search`` → render."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.agreements.models import AGREEMENT_STATUSES, AGREEMENT_TYPES, DOMAINS_OF_CHANGE
from portal.core.pagination import Page
from portal.extensions import db
from portal.partners.models import ORG_TYPES, Country, Region
from portal.partners.place_names import place_name
from portal.search.documents import hit_labels
from portal.search.service import FACET_PARAMS, parse_search_args, run_search, suggest_titles

bp = Blueprint("search", __name__, url_prefix="/search")

FACET_VALUES_SHOWN = 10


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    href: str


@dataclass
class FacetGroup:
    param: str
    title: str
    values: list[FacetValue]


def _facet_titles() -> dict[str, str]:
    return {
        "kind": _("Type of result"),
        "regions": _("Region"),
        "countries": _("Country"),
        "org_type": _("Organisation type"),
        "agreement_type": _("Agreement type"),
        "status": _("Status"),
        "year": _("Year"),
        "domain": _("Domain of change"),
    }


def _labels(facets: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    """Human names for facet values (one query each for regions and countries)."""
    region_codes = list(facets.get("regions", {}))
    country_codes = list(facets.get("countries", {}))
    regions = (
        {
            code: place_name(name)
            for code, name in db.session.execute(
                select(Region.code, Region.name).where(Region.code.in_(region_codes))
            )
        }
        if region_codes
        else {}
    )
    countries = (
        {
            code: place_name(name)
            for code, name in db.session.execute(
                select(Country.code, Country.name).where(Country.code.in_(country_codes))
            )
        }
        if country_codes
        else {}
    )
    from portal.consultations.records_forms import OUTCOME_STATUS_LABELS
    from portal.consultations.records_services import MINUTES_STATUS_LABELS

    return {
        # Every kind and status a search document may carry, in the reader's language: a
        # facet never shows an internal word ("minutes", "in-progress").
        "kind": {
            "organization": _("Partners"),
            "agreement": _("Agreements"),
            "minutes": _("Minutes"),
            "agenda": _("Agenda items"),
            "outcome": _("Recommendations and actions"),
            "paragraph": _("Draft paragraphs"),
            "comment": _("Review comments"),
        },
        "regions": regions,
        "countries": countries,
        "org_type": ORG_TYPES,
        "agreement_type": AGREEMENT_TYPES,
        "status": {**MINUTES_STATUS_LABELS, **OUTCOME_STATUS_LABELS, **AGREEMENT_STATUSES},
        "domain": {str(k): f"{k}. {v}" for k, v in DOMAINS_OF_CHANGE.items()},
    }


def _toggle_href(param: str, value: str) -> str:
    """This search with ``param=value`` added or removed (and back to page 1)."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    values = args.get(param, [])
    args[param] = [v for v in values if v != value] if value in values else [*values, value]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def facet_groups(
    facets: dict[str, dict[str, int]], filters: dict[str, list[str]]
) -> list[FacetGroup]:
    labels = _labels(facets)
    groups = []
    for facet, title in _facet_titles().items():
        counts = facets.get(facet) or {}
        selected = filters.get(facet, [])
        param = FACET_PARAMS[facet]
        shown = list(counts.items())[:FACET_VALUES_SHOWN]
        shown += [(v, counts.get(v, 0)) for v in selected if v not in dict(shown)]
        if not shown:
            continue
        values = [
            FacetValue(
                value=value,
                label=str(labels.get(facet, {}).get(value, value)),
                count=count,
                selected=value in selected,
                href=_toggle_href(param, value),
            )
            for value, count in shown
        ]
        groups.append(FacetGroup(param=param, title=title, values=values))
    return groups


@bp.route("/")
def search_page():
    search = parse_search_args(request.args)
    results = run_search(search, current_user)
    page = Page(items=results.hits, total=results.total, page=search.page, per_page=search.per_page)
    return render_template(
        "search/search.html",
        search=search,
        results=results,
        page=page,
        groups=facet_groups(results.facets, search.filters),
        facet_params=FACET_PARAMS,
        hit_labels=hit_labels,
        kind_labels={
            "organization": _("Partner"),
            "agreement": _("Agreement"),
            "minutes": _("Minutes"),
            "agenda": _("Agenda item"),
            "outcome": _("Recommendation or action"),
            "paragraph": _("Draft paragraph"),
            "comment": _("Review comment"),
        },
    )


@bp.route("/suggest")
def suggest():
    text = (request.args.get("q") or "")[:200]
    return jsonify({"q": text, "suggestions": suggest_titles(text, current_user)})
