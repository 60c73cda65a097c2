"""The search use case the page, the suggestion box and the JSON API share.

The viewer's principals come from ``portal.core.principals`` — the same strings documents
carry — and are handed to the engine, which filters inside the query. When the configured
engine fails, the database backend answers and the result says so (``fallback_from``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _

from portal.core.principals import viewer_principals
from portal.search.base import FACET_FIELDS, SearchQuery, SearchResults, SearchUnavailable
from portal.search.registry import database_backend_for, get_backend, is_database

log = logging.getLogger(__name__)

# Query-string parameter → facet field (the API and the page use the same names).
FILTER_PARAMS: dict[str, str] = {
    "kind": "kind",
    "region": "regions",
    "country": "countries",
    "org_type": "org_type",
    "agreement_type": "agreement_type",
    "status": "status",
    "year": "year",
    "domain": "domain",
}
FACET_PARAMS: dict[str, str] = {facet: param for param, facet in FILTER_PARAMS.items()}
MAX_PER_PAGE = 100
MAX_PAGE = 500  # deep pages are expensive on every engine; nobody reads page 10,000
SUGGEST_LIMIT = 8


@dataclass
class SearchRequest:
    """Validated search parameters (from the page form or the API query string)."""

    text: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    page: int = 1
    per_page: int = 20
    sort: str = "relevance"


class BadSearchRequest(ValueError):
    """A parameter cannot be understood; the API answers 400 with this message."""


def _bounded_int(
    raw: str | None, default: int, low: int, high: int, name: str, strict: bool
) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        if strict:
            raise BadSearchRequest(_("“%(name)s” must be a whole number.", name=name)) from None
        return default
    return max(low, min(value, high))


def parse_search_args(args, *, strict: bool = False, default_per_page: int = 20) -> SearchRequest:
    """Read q, filters, page, per_page and sort from a MultiDict.

    Out-of-range numbers are clamped; with ``strict`` (the API) non-numbers raise
    ``BadSearchRequest`` instead of being ignored.
    """
    filters: dict[str, list[str]] = {}
    for param, facet in FILTER_PARAMS.items():
        values = [v.strip()[:100] for v in args.getlist(param) if v and v.strip()][:20]
        if values:
            filters[facet] = values
    sort = args.get("sort", "relevance")
    if sort not in ("relevance", "date"):
        if strict:
            raise BadSearchRequest(
                _("“%(name)s” must be one of: %(values)s.", name="sort", values="relevance, date")
            )
        sort = "relevance"
    return SearchRequest(
        text=(args.get("q") or "")[:1000],
        filters=filters,
        page=_bounded_int(args.get("page"), 1, 1, MAX_PAGE, "page", strict),
        per_page=_bounded_int(
            args.get("per_page"), default_per_page, 1, MAX_PER_PAGE, "per_page", strict
        ),
        sort=sort,
    )


def run_search(
    request: SearchRequest | str,
    user,
    *,
    facets: tuple[str, ...] = FACET_FIELDS,
) -> SearchResults:
    """Search as ``user`` may see; never raises because an external engine is down."""
    if isinstance(request, str):
        request = SearchRequest(text=request)
    query = SearchQuery(
        text=request.text,
        filters=request.filters,
        facets=facets,
        principals=viewer_principals(user),
        page=request.page,
        per_page=request.per_page,
        sort=request.sort,
        lang=_locale(),
    )
    backend = get_backend()
    try:
        return backend.search(query)
    except SearchUnavailable as err:
        if is_database(backend):
            raise
        log.warning("Search engine %s unavailable, using the database: %s", backend.name, err)
    except Exception:
        if is_database(backend):
            raise  # our own database failing is a real error, not an outage to hide
        log.exception("Search engine %s failed, using the database", backend.name)
    results = database_backend_for().search(query)
    results.fallback_from = backend.name
    return results


def suggest_titles(text: str, user) -> list[dict[str, str]]:
    """Up to ``SUGGEST_LIMIT`` titles for the as-you-type box."""
    if not text.strip():
        return []
    results = run_search(SearchRequest(text=text, per_page=SUGGEST_LIMIT), user, facets=())
    return [{"title": hit.title, "url": hit.url, "kind": hit.kind} for hit in results.hits]


def _locale() -> str | None:
    try:
        from flask_babel import get_locale

        locale = get_locale()
        return str(locale.language) if locale else None
    except Exception:  # outside a request (CLI): no viewer language
        return current_app.config.get("BABEL_DEFAULT_LOCALE")
