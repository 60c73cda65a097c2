"""/api/v1/openapi.json and /api/v1/docs: generated from the code, readable offline."""

from __future__ import annotations

import re

from portal.api.views import bp


def test_document_is_openapi_31_and_lists_every_api_route(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    # Every route of the blueprint, except the document and its page, is described.
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{bp.name}.") and rule.endpoint not in (
            "api.openapi_json",
            "api.docs",
        ):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method))
    assert documented == routes
    assert {"/api/v1/search", "/api/v1/reviews/rounds/{round_id}/comments"} <= set(doc["paths"])
    post = doc["paths"]["/api/v1/reviews/rounds/{round_id}/comments"]["post"]
    assert post["security"] == [{"bearerAuth": []}]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CommentIn"
    }
    country = next(
        p for p in doc["paths"]["/api/v1/agreements"]["get"]["parameters"] if p["name"] == "country"
    )
    codes = doc["components"]["schemas"]["CountryCode"]["enum"]
    assert country["schema"] == {
        "$ref": "#/components/schemas/CountryCode",
        "description": "ISO 3166-1 alpha-2 code.",
    }
    assert "KE" in codes and len(codes) == 249


def test_docs_page_describes_every_operation_without_fetching_anything(client):
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert f'id="op-{op["operationId"]}"' in html
            assert f"{method.upper()} {path}" in html
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    # Nothing from another origin: no CDN script, stylesheet, font or image.
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html):
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", tag), tag


def test_docs_page_in_arabic_is_right_to_left_and_translated(client):
    html = client.get("/api/v1/docs?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in html
    assert "مرجع واجهة البرمجة (API)" in html
    # The reference text stays English, marked as such for screen readers and the bidi rules.
    assert 'lang="en" dir="ltr"' in html
