"""``GET /api/v1/search``: the search page's results as JSON."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user

from portal.api import schemas as s
from portal.api.openapi import OPTIONAL_AUTH, TAGS, api_response, spec
from portal.api.views import bp
from portal.search.documents import hit_labels
from portal.search.service import FACET_PARAMS, BadSearchRequest, parse_search_args, run_search


@bp.get("/search")
@spec.validate(
    query=s.SearchQuery,
    resp=api_response(s.SearchResultsOut, 400, 401),
    tags=[TAGS["search"]],
    security=OPTIONAL_AUTH,
    operation_id="search",
    # The search page's parser reads the query string (it clamps page numbers rather than
    # refusing them); the model documents it.
    skip_validation=True,
)
def search():
    """Search

    The search page's results: partners, agreements, draft paragraphs, minutes and (for
    staff) comments you may see, best first, with facet counts. Filters are repeatable
    and combine with OR within a parameter, AND across parameters. When the search engine
    is unavailable the database answers and `fallback` is true.
    """
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
                    "labels": hit_labels(hit),
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
