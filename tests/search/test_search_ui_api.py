"""The search page, suggestions and JSON API: what each kind of visitor sees, facets,
paging, bad input, and the database fallback when the configured engine is down."""

from __future__ import annotations

import secrets

import pytest

from portal.accounts.models import ApiToken, Role
from portal.extensions import db
from portal.search.registry import database_backend_for, get_backend
from tests.conftest import login


@pytest.fixture(autouse=True)
def clean_index(app):
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    yield
    database_backend_for(app).clear()


@pytest.fixture
def catalogue(factories):
    mine = factories.make_org(
        "Kounkuey Design Initiative",
        country="KE",
        regions=("014",),
        description="Public space design.",
    )
    other = factories.make_org(
        "Other Partner Org", country="BR", regions=("005",), description="Mobility."
    )
    public = factories.make_agreement(
        "Nairobi river housing partnership",
        parties=[mine],
        countries=("KE",),
        regions=("014",),
    )
    ours = factories.make_agreement(
        "Housing pilot for partners only", parties=[mine], visibility="partners", countries=("KE",)
    )
    theirs = factories.make_agreement(
        "Housing finance for another partner",
        parties=[other],
        visibility="partners",
        countries=("BR",),
        regions=("005",),
    )
    internal = factories.make_agreement(
        "Internal housing review",
        visibility="internal",
        countries=("FR",),
        regions=("155",),
        status="draft",
    )
    partner = factories.make_user(Role.PARTNER, organization=mine, email="partner@example.org")
    staff = factories.make_user(Role.STAFF, email="staff@example.org")
    db.session.commit()
    return {
        "mine": mine,
        "public": public,
        "ours": ours,
        "theirs": theirs,
        "internal": internal,
        "partner": partner,
        "staff": staff,
    }


def text_of(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


# --- the page ---------------------------------------------------------------------------


def test_anonymous_search_shows_only_public_results_with_highlights_and_facets(client, catalogue):
    page = text_of(client.get("/search/?q=housing"))
    assert "Nairobi river housing partnership" in page
    assert "partners only" not in page
    assert "another partner" not in page
    assert "Internal housing review" not in page
    assert "1 result" in page
    # Facet counts are computed under the same permissions: no France, no draft.
    assert "Kenya" in page
    assert "France" not in page
    assert "Draft" not in page
    # Snippets come from the body, matches marked (factories' summary mentions settlements).
    assert "<mark>settlements</mark>" in text_of(client.get("/search/?q=settlements"))


def test_typo_finds_the_word_and_offers_did_you_mean(client, catalogue):
    page = text_of(client.get("/search/?q=hosuing+Nairobi"))
    assert "Nairobi river housing partnership" in page
    assert "Did you mean:" in page
    assert "/search/?q=housing+Nairobi" in page
    # Nothing corrected, nothing offered.
    assert "Did you mean" not in text_of(client.get("/search/?q=housing"))
    body = client.get("/api/v1/search?q=hosuing").get_json()
    assert [hit["title"] for hit in body["hits"]] == ["Nairobi river housing partnership"]
    assert body["did_you_mean"] == "housing"
    assert client.get("/api/v1/search?q=housing").get_json()["did_you_mean"] is None


def test_did_you_mean_in_arabic_interface(client, catalogue):
    client.get("/lang/ar")
    page = text_of(client.get("/search/?q=hosuing"))
    assert "هل تقصد:" in page
    assert 'dir="auto"><strong>housing</strong>' in page


def test_partner_sees_own_organisations_restricted_agreement_only(client, catalogue):
    assert login(client, "partner@example.org").status_code in (302, 303)
    page = text_of(client.get("/search/?q=housing"))
    assert "Housing pilot for partners only" in page
    assert "Nairobi river housing partnership" in page
    assert "another partner" not in page
    assert "Internal housing review" not in page
    assert "2 results" in page


def test_staff_see_everything(client, catalogue):
    login(client, "staff@example.org")
    page = text_of(client.get("/search/?q=housing"))
    for title in ("partners only", "another partner", "Internal housing review", "Nairobi river"):
        assert title in page
    assert "France" in page


def test_facet_links_filter_results(client, catalogue):
    login(client, "staff@example.org")
    page = text_of(client.get("/search/?q=housing&region=002"))  # Africa, via sub-region 014
    assert "Nairobi river housing partnership" in page
    assert "Internal housing review" not in page
    assert "another partner" not in page
    assert 'aria-current="true"' in page  # the selected filter is marked
    # Selecting a second value of the same facet widens (OR), a link removes the filter.
    both = text_of(client.get("/search/?q=housing&region=002&region=150"))
    assert "Internal housing review" in both


def test_sort_and_pagination(client, factories):
    from datetime import date

    for n in range(1, 26):
        factories.make_agreement(f"Sanitation project {n:02d}", signed_on=date(2000 + n, 1, 1))
    db.session.commit()
    first = text_of(client.get("/search/?q=sanitation&sort=date"))
    assert "25 results" in first
    assert first.index("Sanitation project 25") < first.index("Sanitation project 24")
    assert "Page 1 of 2" in first
    second = text_of(client.get("/search/?q=sanitation&sort=date&page=2"))
    assert "Sanitation project 05" in second
    assert "Sanitation project 25" not in second


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-5",
        "per_page=1000",
        "per_page=x",
        "sort=evil",
        "q=%22(*NEAR",
        "q=" + "x" * 1500,
        "q=%27%3B+DROP+TABLE+x%3B+--",
        "region=" + "9" * 500,
        "q=%00%01",
    ],
)
def test_bad_input_on_the_page_never_errors(client, catalogue, query):
    assert client.get(f"/search/?{query}").status_code == 200


def test_empty_search_page_renders_a_form(client):
    page = text_of(client.get("/search/"))
    assert 'name="q"' in page
    assert "0 results" in page


# --- suggestions ---------------------------------------------------------------------------


def test_suggest_returns_visible_titles_as_json(client, catalogue):
    data = client.get("/search/suggest?q=hous").get_json()
    titles = [s["title"] for s in data["suggestions"]]
    assert titles == ["Nairobi river housing partnership"]
    assert data["suggestions"][0]["url"].endswith(f"/{catalogue['public'].id}")
    assert client.get("/search/suggest?q=").get_json()["suggestions"] == []


def test_suggest_returns_at_most_eight(client, factories):
    for n in range(12):
        factories.make_agreement(f"Partnership number {n}")
    db.session.commit()
    assert len(client.get("/search/suggest?q=partn").get_json()["suggestions"]) == 8


# --- JSON API ----------------------------------------------------------------------------------


def test_api_search_shape_and_public_permissions(client, catalogue):
    data = client.get("/api/v1/search?q=housing").get_json()
    assert data["total"] == 1
    assert data["fallback"] is False
    hit = data["hits"][0]
    assert set(hit) == {"id", "kind", "title", "url", "snippet", "labels"}
    assert hit["id"] == f"agreement:{catalogue['public'].id}"
    assert data["facets"]["country"] == {"KE": 1}
    assert "FR" not in data["facets"]["country"]


def test_api_filters(client, catalogue):
    login(client, "staff@example.org")
    data = client.get("/api/v1/search?q=housing&country=BR&country=FR").get_json()
    assert sorted(h["title"] for h in data["hits"]) == [
        "Housing finance for another partner",
        "Internal housing review",
    ]
    data = client.get("/api/v1/search?kind=organization").get_json()
    assert {h["kind"] for h in data["hits"]} == {"organization"}
    assert data["total"] == 2
    data = client.get("/api/v1/search?q=housing&status=draft").get_json()
    assert [h["title"] for h in data["hits"]] == ["Internal housing review"]


def test_api_bearer_token_gets_the_users_permissions(client, catalogue):
    raw = secrets.token_urlsafe(24)
    db.session.add(ApiToken(user=catalogue["partner"], name="cli", token_hash=ApiToken.hash(raw)))
    db.session.commit()
    anonymous = client.get("/api/v1/search?q=housing").get_json()
    assert anonymous["total"] == 1
    data = client.get(
        "/api/v1/search?q=housing", headers={"Authorization": f"Bearer {raw}"}
    ).get_json()
    assert sorted(h["title"] for h in data["hits"]) == [
        "Housing pilot for partners only",
        "Nairobi river housing partnership",
    ]
    # A token that is not valid is refused, not read as anonymous (docs/api.md).
    bogus = client.get("/api/v1/search?q=housing", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401


def test_api_bad_parameters_are_400_json_or_clamped(client, catalogue):
    resp = client.get("/api/v1/search?page=abc")
    assert resp.status_code == 400
    assert "page" in resp.get_json()["error"]["message"]
    assert client.get("/api/v1/search?per_page=abc").status_code == 400
    assert client.get("/api/v1/search?sort=sideways").status_code == 400
    assert client.get("/api/v1/search?per_page=").status_code == 400  # not a number either
    clamped = client.get("/api/v1/search?per_page=1000&page=-3").get_json()
    assert clamped["per_page"] == 100
    assert clamped["page"] == 1


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "*",
        "(",
        "NEAR",
        "AND OR",
        "x" * 1000,
        "\x01\x02",
        "'; DROP TABLE x; --",
        "\\",
        "^",
        ":",
        "-",
    ],
)
def test_api_hostile_queries_never_500(client, catalogue, q):
    resp = client.get("/api/v1/search", query_string={"q": q})
    assert resp.status_code == 200
    assert resp.get_json()["total"] >= 0


# --- engine outage --------------------------------------------------------------------------


def test_unreachable_engine_falls_back_to_the_database_and_says_so(
    app, client, factories, monkeypatch
):
    monkeypatch.setitem(app.config, "SEARCH_URL", "elasticsearch+http://127.0.0.1:1")
    monkeypatch.setitem(app.config, "SEARCH_INDEX_PREFIX", "portal-test-fallback")
    # Staff save during the outage: no error, and the database index is kept current.
    agreement = factories.make_agreement("Cholera response in Lusaka")
    db.session.commit()
    page = text_of(client.get("/search/?q=Lusaka"))
    assert "Search engine unavailable" in page
    assert "Cholera response in Lusaka" in page
    data = client.get("/api/v1/search?q=Lusaka").get_json()
    assert data["fallback"] is True
    assert [h["id"] for h in data["hits"]] == [f"agreement:{agreement.id}"]
    # The engine's copy is still owed: the outbox keeps the row for `search sync`.
    from portal.search.models import SearchOutbox

    assert db.session.query(SearchOutbox).filter_by(doc_id=f"agreement:{agreement.id}").count() == 1


def test_no_fallback_notice_when_the_engine_works(client, catalogue):
    page = text_of(client.get("/search/?q=housing"))
    assert "Search engine unavailable" not in page
