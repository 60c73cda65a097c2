"""Issue 15 (S5, S6): every route, whatever it answers (200, 302, 403, 404, 405), carries the
security headers; every response to a logged-in person is ``no-store``; and the CSP never
allows inline script or style. The routes come from the app's URL map, so a new page is
covered the day it is added."""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import Rule

from tests.conftest import login

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _sample_values(world) -> dict[str, object]:
    """A real object for each URL variable name, so most routes answer 200, not 404."""
    return {
        "org_id": world.org.id,
        "agreement_id": world.agreement.id,
        "doc_id": 1,
        "round_id": world.review_round.id,
        "document_id": world.version.document_id,
        "number": world.version.number,
        "comment_id": 1,
        "group_id": world.group.id,
        "meeting_id": world.meeting.id,
        "member_id": 1,
        "item_id": 1,
        "invitation_id": 1,
        "outcome_id": 1,
        "user_id": world.partner.id,
        "token_id": 1,
        "proposal_id": 1,
        "code": "002",
        "alpha2": "KE",
        "kind": "organizations",
        "fmt": "csv",
        "action": "approve",
        "token": "not-a-real-token",
        "filename": "css/portal.css",
    }


def _urls(app, world) -> list[tuple[str, str]]:
    values = _sample_values(world)
    urls = []
    rule: Rule
    for rule in app.url_map.iter_rules():
        args = {name: values.get(name, 1) for name in rule.arguments}
        for name, converter in (rule._converters or {}).items():
            choices = getattr(converter, "items", None)  # any(a, b): the first allowed value
            if choices and str(args.get(name)) not in choices:
                args[name] = sorted(choices)[0]
        if rule.endpoint == "core.set_language":
            args["code"] = "en"
        with app.test_request_context():
            path = url_for(rule.endpoint, **args)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            urls.append((method, path))
    return sorted(set(urls))


def _check(resp, method: str, path: str, *, private: bool) -> list[str]:
    problems = []
    where = f"{method} {path} → {resp.status_code}"
    if resp.status_code >= 500:
        problems.append(f"{where}: server error")
    for name, value in REQUIRED.items():
        if resp.headers.get(name) != value:
            problems.append(f"{where}: {name} = {resp.headers.get(name)!r}")
    csp = resp.headers.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in csp or "default-src 'self'" not in csp:
        problems.append(f"{where}: CSP {csp!r}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"{where}: CSP allows unsafe-*")
    if resp.headers.get("Referrer-Policy") not in (
        "strict-origin-when-cross-origin",
        "no-referrer",
    ):
        problems.append(f"{where}: Referrer-Policy {resp.headers.get('Referrer-Policy')!r}")
    if "camera=()" not in resp.headers.get("Permissions-Policy", ""):
        problems.append(f"{where}: Permissions-Policy missing")
    if private and not path.startswith("/static/"):
        if "no-store" not in resp.headers.get("Cache-Control", ""):
            problems.append(f"{where}: Cache-Control {resp.headers.get('Cache-Control')!r}")
    if resp.status_code < 300 and resp.mimetype == "text/html":
        body = resp.get_data(as_text=True)
        nonce = csp.split("'nonce-")[1].split("'")[0] if "'nonce-" in csp else None
        if "<script>" in body or "<style" in body or ' style="' in body:
            problems.append(f"{where}: inline script or style in the page")
        if nonce and "<script" in body and f'nonce="{nonce}"' not in body:
            problems.append(f"{where}: script without this response's nonce")
    return problems


@pytest.mark.parametrize("role", ["anonymous", "partner", "staff", "admin"])
def test_every_route_sends_the_security_headers(app, client, world, role):
    if role != "anonymous":
        login(client, getattr(world, role).email)
    problems: list[str] = []
    urls = _urls(app, world)
    assert len(urls) > 100  # the whole map, not a handful
    for method, path in urls:
        if path in ("/account/logout", "/account/sessions/end-others"):
            continue  # would end the session the rest of the sweep needs; tested elsewhere
        resp = client.open(path, method=method, data={})
        problems += _check(resp, method, path, private=role != "anonymous")
    assert problems == []


def test_api_with_a_token_is_never_stored(client, world):
    resp = client.get(
        f"/api/v1/reviews/rounds/{world.review_round.id}", headers=world.token_headers
    )
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_each_response_gets_its_own_nonce(client, world):
    first = client.get("/").headers["Content-Security-Policy"]
    second = client.get("/").headers["Content-Security-Policy"]
    assert "'nonce-" in first and first != second


def test_report_only_mode_sends_the_same_policy_under_the_report_only_header(app, client):
    app.config["CSP_REPORT_ONLY"] = True
    try:
        resp = client.get("/")
    finally:
        app.config["CSP_REPORT_ONLY"] = False
    assert "Content-Security-Policy" not in resp.headers
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy-Report-Only"]
