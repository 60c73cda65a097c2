"""The OpenAPI 3.1 document of ``/api/v1``, generated from the code by spectree.

Each endpoint is a plain Flask view on the ``api`` blueprint decorated with ``spec.validate``;
spectree reads its route (paths and path parameters from the URL map), its docstring
(summary and description), and the pydantic models it names (query string, JSON body,
responses per status). ``spec.spec`` walks the app's URL map and assembles the document.

Choices (docs/api.md says why spectree):
- ``mode="strict"``: only decorated views are described — the HTML pages are not API;
- query strings are validated before the view runs; a refusal is the portal's JSON error
  (``{"error": {"code": 400, "message": …}, "errors": {param: message}}``) with messages in
  the caller's language, not pydantic's English list;
- spectree's own routes (its spec URL and its CDN-loaded UI pages) are not registered: the
  document is served at ``/api/v1/openapi.json`` by ``views.openapi_json`` and read at
  ``/api/v1/docs``, rendered on the server (no JavaScript, nothing fetched from elsewhere).
"""

from __future__ import annotations

from typing import Any

from flask import json
from flask_babel import gettext as _
from spectree import Response, SecurityScheme, SpecTree, Tag
from spectree.models import SecureType, SecuritySchemeData

from portal.api.schemas import ApiError

API_VERSION = "1.0.0"

BEARER = "bearerAuth"
# Anonymous callers are welcome on reads: no credentials, or a bearer token for more.
OPTIONAL_AUTH: list[dict[str, list[str]]] = [{}, {BEARER: []}]
REQUIRED_AUTH: list[dict[str, list[str]]] = [{BEARER: []}]

TAGS = {
    "organizations": Tag(
        name="Organisations",
        description="Partner organisations in the catalogue, as the directory shows them.",
    ),
    "agreements": Tag(
        name="Agreements",
        description="Partnership agreements, with the filters and sort orders of the list page.",
    ),
    "places": Tag(
        name="Regions and countries",
        description="UN M49 regions and ISO 3166 countries with the visible partners and "
        "agreements in each.",
    ),
    "search": Tag(name="Search", description="Full-text search across the portal."),
    "reviews": Tag(name="Reviews", description="Draft-document review rounds and their comments."),
}

DESCRIPTION = """\
The partnership catalogue (organisations, agreements, regions, countries), search, and
draft-document review comments, as JSON.

**Who sees what.** The same rules as the web pages: anyone sees public records; a member of a
partner organisation also sees the agreements their organisation is a party to that are
shared with partners, and their organisation's own profile; staff see everything that is not
archived. Send `Authorization: Bearer <token>` (tokens are created on the account page) to
read as yourself. An invalid or revoked token is refused with 401, never treated as
anonymous. The browser session cookie also works for reads.

**Language.** Labels, place names and error messages follow `Accept-Language` (ar, en, es,
fr, ru, zh) or `?lang=`.

**Errors** are JSON: `{"error": {"code": 404, "message": "…"}}`; a refused parameter or field
adds `"errors": {"name": "message"}`.

**Lists** take `page` (from 1) and `per_page` (1–100) and answer with `total`, `page`,
`per_page`, `pages` and `items`.
"""


def _param_message(name: str, error: dict[str, Any]) -> str:
    """A translated message for one refused query parameter (pydantic's are English)."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "enum":
        return _("“%(name)s” must be one of: %(values)s.", name=name, values=ctx.get("expected"))
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return _("“%(name)s” must be a whole number.", name=name)
    if kind == "greater_than_equal":
        return _("“%(name)s” must be at least %(limit)s.", name=name, limit=ctx.get("ge"))
    if kind == "less_than_equal":
        return _("“%(name)s” must be at most %(limit)s.", name=name, limit=ctx.get("le"))
    if kind == "string_too_long":
        return _(
            "“%(name)s” must be at most %(limit)s characters.",
            name=name,
            limit=ctx.get("max_length"),
        )
    if kind == "bool_parsing":
        return _("“%(name)s” must be true or false.", name=name)
    if kind == "list_type":
        return _("“%(name)s” may be given only once.", name=name)
    return _("“%(name)s” is not valid here.", name=name)


def _validation_error_response(req, resp, err, instance, adapter) -> None:
    """spectree's ``before`` hook: rewrite its 400 body into the portal's error shape."""
    if err is None or resp is None:
        return
    errors: dict[str, str] = {}
    for error in err.errors():
        name = str(error["loc"][0]) if error.get("loc") else "query"
        errors.setdefault(name, _param_message(name, error))
    body = {"error": {"code": 400, "message": " ".join(errors.values())}, "errors": errors}
    resp.set_data(json.dumps(body))
    resp.mimetype = "application/json"
    resp.status_code = 400


spec = SpecTree(
    "flask",
    mode="strict",
    title="Partnership Portal API",
    version=API_VERSION,
    description=DESCRIPTION,
    openapi_version="3.1.0",
    page_templates={},  # no CDN-backed UI: /api/v1/docs is rendered by the portal
    security_schemes=[
        SecurityScheme(
            name=BEARER,
            data=SecuritySchemeData(
                type=SecureType.HTTP,
                scheme="bearer",
                description="A personal API token: `Authorization: Bearer <token>`.",
            ),
        )
    ],
    before=_validation_error_response,
    validation_error_status=400,
    validation_error_model=ApiError,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)


def api_response(ok: type | None, *error_statuses: int, status: int = 200) -> Response:
    """The documented answers of an operation: ``ok`` on success, ``ApiError`` otherwise."""
    return Response(
        **{f"HTTP_{status}": ok},
        **{f"HTTP_{code}": ApiError for code in error_statuses},
    )


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` → ``X``: a query parameter is absent or has a value, never null."""
    options = schema.get("anyOf")
    if not options or {"type": "null"} not in options:
        return schema
    rest = [o for o in options if o != {"type": "null"}]
    if len(rest) != 1:
        return schema
    merged = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    merged.update(rest[0])
    return merged


def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process, from the app's URL map)."""
    doc = spec.spec
    for operations in doc["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    parameter["schema"] = _without_null(parameter["schema"])
    return doc
