"""``GET /api/v1/search``: the search page's results as JSON."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user

from portal.api.views import bp
from portal.search.service import FACET_PARAMS, BadSearchRequest, parse_search_args, run_search


@bp.get("/search")
def search():
    """Query parameters: q, kind, region, country, org_type, agreement_type, status, year,
    domain (repeatable), sort (relevance|date), page, per_page (≤ 100)."""
    try:
        params = parse_search_args(request.args, strict=True)
    except BadSearchRequest as err:
        abort(400, description=str(err))
    results = run_search(params, current_user)
    return jsonify(
        {
            "total": results.total,
            "page": params.page,
            "per_page": params.per_page,
            "hits": [
                {
                    "id": hit.id,
                    "kind": hit.kind,
                    "title": hit.title,
                    "url": hit.url,
                    "snippet": hit.snippet,
                }
                for hit in results.hits
            ],
            # Keyed by the query parameter that filters on it (region, not regions).
            "facets": {
                FACET_PARAMS.get(name, name): counts for name, counts in results.facets.items()
            },
            "backend": results.backend,
            "fallback": results.fallback_from is not None,
            # The corrected query when the best hit matched a word only through a typo.
            "did_you_mean": results.did_you_mean,
        }
    )
