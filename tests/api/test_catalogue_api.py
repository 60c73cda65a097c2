"""The catalogue API: the pages' filters, sort orders and visibility rules, as JSON."""

from __future__ import annotations

import pytest

from portal.accounts.models import ApiToken
from portal.core.models import utcnow
from portal.extensions import db


def _get(client, url, who="public", catalogue=None, **kw):
    headers = catalogue["headers"][who] if catalogue else {}
    resp = client.get(url, headers={**headers, **kw.pop("headers", {})}, **kw)
    return resp


def _titles(data) -> list[str]:
    return [item["title"] for item in data["items"]]


# --------------------------------------------------------------------------- visibility


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("public", {"public"}),
        ("partner", {"public", "ours"}),
        ("staff", {"public", "ours", "theirs", "internal"}),
    ],
)
def test_agreement_list_shows_what_the_agreements_page_shows(client, catalogue, who, expected):
    data = _get(client, "/api/v1/agreements", who, catalogue).get_json()
    want = {catalogue[key].title for key in expected}
    assert set(_titles(data)) == want
    assert data["total"] == len(want)
    # The page, as the same viewer, lists exactly the same agreements.
    from tests.conftest import login

    if who != "public":
        login(client, catalogue[who].email)
    page = client.get("/agreements/").get_data(as_text=True)
    for key in ("public", "ours", "theirs", "internal"):
        assert (catalogue[key].title in page) == (key in expected), key


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("public", {"public"}),
        ("partner", {"public", "ours"}),
        ("staff", {"public", "ours", "theirs", "internal"}),
    ],
)
def test_agreement_detail_is_404_where_the_page_is(client, catalogue, who, visible):
    for key in ("public", "ours", "theirs", "internal"):
        agreement = catalogue[key]
        resp = _get(client, f"/api/v1/agreements/{agreement.id}", who, catalogue)
        if key in visible:
            assert resp.status_code == 200, key
            assert resp.get_json()["title"] == agreement.title
        else:
            assert resp.status_code == 404, key
            assert resp.get_json()["error"]["code"] == 404


def test_hidden_records_count_nowhere_for_the_public(client, catalogue):
    orgs = _get(client, "/api/v1/organizations", "public", catalogue).get_json()
    assert "Quiet Donor Foundation" not in [o["name"] for o in orgs["items"]]
    other = next(o for o in orgs["items"] if o["name"] == "Slum Dwellers International")
    assert other["agreement_count"] == 0  # its partners-only and internal agreements
    kenya = _get(client, "/api/v1/countries/KE", "public", catalogue).get_json()
    assert kenya["agreement_count"] == 1
    france = _get(client, "/api/v1/countries/FR", "public", catalogue).get_json()
    assert france["agreement_count"] == 0
    europe = _get(client, "/api/v1/regions/150", "public", catalogue).get_json()
    assert europe["agreement_count"] == 0
    assert europe["countries"] == []  # a continent lists only countries with something
    staff_europe = _get(client, "/api/v1/regions/150", "staff", catalogue).get_json()
    assert staff_europe["agreement_count"] == 1
    # France (an internal agreement), Switzerland (a non-public partner): by name.
    assert [c["code"] for c in staff_europe["countries"]] == ["FR", "CH"]
    filtered = _get(client, "/api/v1/agreements?country=FR", "public", catalogue).get_json()
    assert filtered["total"] == 0


def test_undisclosed_party_has_neither_name_nor_id(client, catalogue):
    data = _get(client, f"/api/v1/agreements/{catalogue['public'].id}", "public", catalogue)
    parties = data.get_json()["parties"]
    hidden = next(p for p in parties if p["role"]["code"] == "funding")
    assert hidden == {
        "organization_id": None,
        "name": "Undisclosed partner",
        "undisclosed": True,
        "role": {"code": "funding", "label": "Funding"},
        "api_url": None,
    }
    staff = _get(client, f"/api/v1/agreements/{catalogue['public'].id}", "staff", catalogue)
    names = {p["name"] for p in staff.get_json()["parties"]}
    assert names == {"Kounkuey Design Initiative", "Quiet Donor Foundation"}
    # A filter on the hidden organisation matches nothing, exactly like a missing one.
    hidden_id = catalogue["hidden"].id
    assert (
        _get(client, f"/api/v1/agreements?party={hidden_id}", "public", catalogue).get_json()[
            "total"
        ]
        == 0
    )
    assert (
        _get(client, "/api/v1/agreements?party=999999", "public", catalogue).get_json()["total"]
        == 0
    )
    assert (
        _get(client, f"/api/v1/agreements?party={hidden_id}", "staff", catalogue).get_json()[
            "total"
        ]
        == 1
    )


def test_partner_sees_its_own_non_public_organisation(client, catalogue, factories):
    catalogue["mine"].is_public = False
    db.session.commit()
    url = f"/api/v1/organizations/{catalogue['mine'].id}"
    assert _get(client, url, "public", catalogue).status_code == 404
    mine = _get(client, url, "partner", catalogue).get_json()
    assert mine["is_public"] is False
    assert [a["title"] for a in mine["agreements"]] == [
        "Nairobi river public space",
        "Kibera pilot shared with partners",
    ]
    assert mine["agreements"][0]["roles"] == [{"code": "implementing", "label": "Implementing"}]


def test_documents_are_listed_with_their_download_link(client, catalogue):
    data = _get(client, f"/api/v1/agreements/{catalogue['public'].id}", "public", catalogue)
    (doc,) = data.get_json()["documents"]
    assert doc["title"] == "Signed agreement"
    download = client.get(doc["download_url"])
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF")


def test_an_invalid_or_revoked_token_is_refused_not_read_as_anonymous(client, catalogue):
    resp = client.get("/api/v1/agreements", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.get_json()["error"]["code"] == 401
    db.session.execute(db.update(ApiToken).values(revoked_at=utcnow()))
    db.session.commit()
    assert _get(client, "/api/v1/agreements", "staff", catalogue).status_code == 401
    assert client.get("/api/v1/agreements").status_code == 200  # anonymous is still welcome


# --------------------------------------------------------------------------- filters and sort


def test_agreement_filters_and_sort_are_the_pages(client, catalogue):
    def titles(query):
        return _titles(_get(client, f"/api/v1/agreements?{query}", "staff", catalogue).get_json())

    assert titles("country=KE") == [
        "Nairobi river public space",
        "Kibera pilot shared with partners",
    ]
    assert titles("region=150") == ["Internal review of the Lyon hub"]  # Europe, via 155
    assert titles("region=002&sort=signed_asc") == [
        "Kibera pilot shared with partners",
        "Nairobi river public space",
        "Cape Town finance shared with partners",
    ]
    assert titles("year=2022") == ["Internal review of the Lyon hub"]
    assert titles("agreement_type=mou&status=draft") == ["Internal review of the Lyon hub"]
    assert titles("sdg=11") == titles("sdg=11.1") and len(titles("sdg=11")) == 4
    assert titles("sdg=6") == []
    assert titles("q=kibera") == ["Kibera pilot shared with partners"]
    assert titles(f"party={catalogue['other'].id}&sort=title") == [
        "Cape Town finance shared with partners",
        "Internal review of the Lyon hub",
    ]


def test_organisation_filters_sort_and_pagination(client, catalogue):
    def names(query, who="public"):
        data = _get(client, f"/api/v1/organizations?{query}", who, catalogue).get_json()
        return [o["name"] for o in data["items"]], data

    assert names("")[0] == ["Kounkuey Design Initiative", "Slum Dwellers International"]
    assert names("sort=since")[0][0] == "Slum Dwellers International"
    assert names("region=018")[0] == ["Slum Dwellers International"]
    assert names("org_type=22&country=KE")[0] == ["Kounkuey Design Initiative"]
    assert names("q=kdi")[0] == ["Kounkuey Design Initiative"]  # acronym
    by_count, data = names("sort=agreements", "staff")
    assert by_count == [  # 2, 2 (then by name), 1 — not the alphabetical order
        "Kounkuey Design Initiative",
        "Slum Dwellers International",
        "Quiet Donor Foundation",
    ]
    assert [o["agreement_count"] for o in data["items"]] == [2, 2, 1]
    first, page1 = names("per_page=1&page=1", "staff")
    second, page2 = names("per_page=1&page=2", "staff")
    assert page1["total"] == page2["total"] == 3
    assert page1["pages"] == 3
    assert first != second
    beyond = names("per_page=1&page=50", "staff")[1]
    assert beyond["items"] == [] and beyond["total"] == 3


def test_regions_and_countries(client, catalogue):
    regions = _get(client, "/api/v1/regions", "public", catalogue).get_json()
    assert regions["items"][0]["code"] == "001"
    assert regions["total"] == len(regions["items"])
    africa = next(r for r in regions["items"] if r["code"] == "002")
    assert africa["partner_count"] == 2 and africa["agreement_count"] == 1
    children = _get(client, "/api/v1/regions?parent=002", "public", catalogue).get_json()
    assert {r["code"] for r in children["items"]} == {"015", "202"}
    east = _get(client, "/api/v1/regions/014", "public", catalogue).get_json()
    assert [r["code"] for r in east["path"]] == ["002", "202"]
    assert east["organizations_url"].endswith("/api/v1/organizations?region=014")
    kenya = next(c for c in east["countries"] if c["code"] == "KE")
    assert kenya["partner_count"] == 1
    countries = _get(client, "/api/v1/countries?active=true", "staff", catalogue).get_json()
    assert {c["code"] for c in countries["items"]} == {"KE", "ZA", "CH", "FR"}
    search = _get(client, "/api/v1/countries?q=keny", "public", catalogue).get_json()
    assert [c["code"] for c in search["items"]] == ["KE"]
    assert _get(client, "/api/v1/countries/ke", "public", catalogue).get_json()["code"] == "KE"
    assert _get(client, "/api/v1/countries/QQ", "public", catalogue).status_code == 404
    assert _get(client, "/api/v1/regions/999", "public", catalogue).status_code == 404


# --------------------------------------------------------------------------- errors


def test_bad_parameters_are_400_with_a_message_per_parameter(client, catalogue):
    resp = client.get("/api/v1/agreements?year=99&sort=sideways&country=XX&per_page=1000")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"]["code"] == 400
    assert set(body["errors"]) == {"year", "sort", "country", "per_page"}
    assert "1900" in body["errors"]["year"]
    assert "signed_asc" in body["errors"]["sort"]


def test_errors_speak_the_callers_language(client, catalogue):
    resp = client.get("/api/v1/agreements?page=abc", headers={"Accept-Language": "fr"})
    assert resp.status_code == 400
    message = resp.get_json()["errors"]["page"]
    assert message == "« page » doit être un nombre entier."
    not_found = client.get("/api/v1/agreements/999999", headers={"Accept-Language": "es"})
    assert not_found.get_json()["error"]["message"] == "No hemos encontrado esa página."
    labels = client.get(
        f"/api/v1/agreements/{catalogue['public'].id}", headers={"Accept-Language": "fr"}
    ).get_json()
    assert labels["countries"][0]["name"] == "République du Kenya"  # iso-codes, as the pages
    assert labels["status"]["label"] != "Active"


def test_unsupported_method_is_405_with_allow(client, catalogue):
    resp = client.delete("/api/v1/agreements")
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert resp.get_json()["error"]["code"] == 405
