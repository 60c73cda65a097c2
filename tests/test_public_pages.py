"""The public catalogue: partner directory and profiles, agreement list/page/CSV, documents,
region pages. Who-sees-what across roles is in test_permission_matrix.py; here the viewer is
mostly anonymous and the focus is on what the pages do with filters, sorting and bad input.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest

from portal.accounts.models import Role
from portal.core.models import utcnow
from portal.extensions import db
from portal.partners.models import Contact
from tests import factories
from tests.conftest import login


def html(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, f"{url} → {resp.status_code}"
    return resp.get_data(as_text=True)


def row_order(body: str, names: list[str]) -> list[str]:
    """The given names in the order they appear on the page."""
    return sorted(names, key=body.index)


def csv_rows(resp) -> list[dict]:
    return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))


# --------------------------------------------------------------------------- partner directory


@pytest.fixture
def partners():
    """Partners spread over regions. Kenya and Uganda are in Eastern Africa (014 ⊂ 202 ⊂ 002)."""
    orgs = {
        "nairobi": factories.make_org(
            "Nairobi Slum Dwellers Federation",
            acronym="NSDF",
            country="KE",
            regions=(),
            org_type="22",
            stakeholder_group="grassroots",
            partner_since=date(2015, 1, 1),
        ),
        # Based in France, but serving Eastern Africa: belongs to Africa through its regions.
        "paris": factories.make_org(
            "Paris Urban Lab",
            country="FR",
            regions=("014",),
            org_type="80",
            stakeholder_group="research-academia",
            partner_since=date(2021, 6, 1),
        ),
        "brasil": factories.make_org(
            "Rede Brasil Habitat",
            country="BR",
            regions=("005",),
            org_type="22",
            stakeholder_group="civil-society",
            partner_since=None,
        ),
        "kampala": factories.make_org(
            "Kampala City Council",
            country="UG",
            regions=("014",),
            org_type="11",
            stakeholder_group="local-authorities",
            partner_since=date(2018, 3, 1),
        ),
    }
    factories.make_agreement("Kampala drainage", parties=[orgs["kampala"]])
    factories.make_agreement("Kampala markets", parties=[orgs["kampala"], orgs["brasil"]])
    factories.make_agreement("Rio favelas", parties=[orgs["brasil"]], countries=("BR",), regions=())
    factories.make_agreement("Kampala hidden", parties=[orgs["kampala"]], visibility="internal")
    db.session.commit()
    return orgs


NAMES = [
    "Nairobi Slum Dwellers Federation",
    "Paris Urban Lab",
    "Rede Brasil Habitat",
    "Kampala City Council",
]


def shown(body: str) -> set[str]:
    return {name for name in NAMES if name in body}


def test_directory_lists_public_partners_alphabetically(client, partners):
    body = html(client, "/partners/")
    assert row_order(body, NAMES) == sorted(NAMES)
    assert "4 partners" in body


def test_directory_region_includes_sub_regions_and_regions_served(client, partners):
    # Africa (002): Kenya and Uganda are two levels down; Paris serves Eastern Africa.
    assert shown(html(client, "/partners/?region=002")) == {
        "Nairobi Slum Dwellers Federation",
        "Paris Urban Lab",
        "Kampala City Council",
    }
    # Unpadded codes are accepted.
    assert shown(html(client, "/partners/?region=5")) == {"Rede Brasil Habitat"}
    assert shown(html(client, "/partners/?region=150")) == {"Paris Urban Lab"}  # Europe


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("country=KE", {"Nairobi Slum Dwellers Federation"}),
        ("country=ug", {"Kampala City Council"}),
        ("org_type=22", {"Nairobi Slum Dwellers Federation", "Rede Brasil Habitat"}),
        ("stakeholder_group=research-academia", {"Paris Urban Lab"}),
        ("q=nsdf", {"Nairobi Slum Dwellers Federation"}),  # acronym, any case
        ("q=urban", {"Paris Urban Lab"}),
        ("q=%25", set()),  # a literal %, not a wildcard
        ("org_type=22&region=002", {"Nairobi Slum Dwellers Federation"}),
    ],
)
def test_directory_filters(client, partners, query, expected):
    assert shown(html(client, f"/partners/?{query}")) == expected


def test_directory_sorting(client, partners):
    body = html(client, "/partners/?sort=since")
    assert row_order(body, NAMES) == [
        "Nairobi Slum Dwellers Federation",  # 2015
        "Kampala City Council",  # 2018
        "Paris Urban Lab",  # 2021
        "Rede Brasil Habitat",  # unknown date last
    ]
    body = html(client, "/partners/?sort=agreements")
    # Kampala: 2 visible (its internal one does not count); Brasil: 2; then the others.
    order = row_order(body, NAMES)
    assert order[:2] == ["Kampala City Council", "Rede Brasil Habitat"]
    assert re.search(r"Kampala City Council</a>.*?<td>2</td>\s*</tr>", body, re.S)


def test_directory_pagination(client, partners):
    first = html(client, "/partners/?per_page=3")
    second = html(client, "/partners/?per_page=3&page=2")
    assert shown(first) | shown(second) == set(NAMES)
    assert shown(first) & shown(second) == set()
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second


def test_directory_facet_counts_follow_other_filters(client, partners):
    body = html(client, "/partners/?region=002")
    # Within Africa: one national NGO (Nairobi), one local government, one academic.
    assert '<option value="22">National NGO (1)</option>' in body
    assert '<option value="11">Local Government (1)</option>' in body
    # The region facet itself ignores the region filter, so the other continents stay offered.
    assert re.search(r'<option value="019">\s*Americas \(1\)</option>', body)
    assert re.search(r'<option value="002" selected>\s*Africa \(3\)</option>', body)


def test_directory_hides_non_public_and_archived_partners(client, partners):
    factories.make_org("Secret Society", is_public=False, country="TZ")
    factories.make_org("Old Partner", archived_at=utcnow(), country="RW")
    db.session.commit()
    body = html(client, "/partners/")
    assert "Secret Society" not in body and "Old Partner" not in body
    # Not even through the country facet.
    assert "Tanzania" not in body and "Rwanda" not in body


def test_directory_bad_arguments_are_ignored_with_a_message(client, partners):
    body = html(client, "/partners/?page=abc&region=xyz&country=ZZ&org_type=99&sort=bogus")
    assert shown(body) == set(NAMES)
    assert "Unknown region code" in body
    assert "Unknown country code" in body
    assert "Unknown organisation type" in body
    assert "Unknown sort order" in body


def test_directory_form_works_without_javascript(client, partners):
    body = html(client, "/partners/")
    assert re.search(r'<form class="filters" method="get" action="/partners/"', body)
    assert 'type="submit"' in body


# --------------------------------------------------------------------------- partner profile


def test_partner_profile_shows_public_facts(client, partners):
    org = partners["kampala"]
    org.website = "https://kcca.example.org"
    org.acronym = "KCCA"
    db.session.add_all(
        [
            Contact(
                organization=org, name="Focal Point Person", email="fp@example.org", is_public=True
            ),
            Contact(organization=org, name="Private Phonebook Entry", is_public=False),
        ]
    )
    db.session.commit()
    body = html(client, f"/partners/{org.id}")
    assert "Kampala City Council" in body and "(KCCA)" in body
    assert "Local Government" in body
    assert "Local and subnational authorities" in body
    assert "Uganda" in body and "Eastern Africa" in body
    assert '<a href="https://kcca.example.org" rel="noopener nofollow"' in body
    assert "Focal Point Person" in body
    assert "Private Phonebook Entry" not in body
    # Its visible agreements with its role; the internal one is not there.
    assert "Kampala drainage" in body and "Kampala markets" in body and "Implementing" in body
    assert "Kampala hidden" not in body


def test_partner_profile_contacts_for_staff(client, partners):
    org = partners["kampala"]
    db.session.add(Contact(organization=org, name="Private Phonebook Entry", is_public=False))
    staff = factories.make_user(Role.STAFF)
    db.session.commit()
    login(client, staff.email)
    body = html(client, f"/partners/{org.id}")
    assert "Private Phonebook Entry" in body and "Staff only" in body


def test_unsafe_website_is_not_a_link(client, partners):
    org = partners["paris"]
    org.website = "javascript:alert(1)"
    db.session.commit()
    body = html(client, f"/partners/{org.id}")
    assert 'href="javascript:' not in body


def test_propose_edit_link_only_for_members(client, app, partners):
    org = partners["nairobi"]
    member = factories.make_user(Role.PARTNER, organization=org)
    outsider = factories.make_user(Role.PARTNER, organization=partners["paris"])
    db.session.commit()
    endpoint_exists = "partners.propose_edit" in app.view_functions
    assert "Propose an edit" not in html(client, f"/partners/{org.id}")
    login(client, outsider.email)
    assert "Propose an edit" not in html(client, f"/partners/{org.id}")
    client.post("/account/logout")
    login(client, member.email)
    # The link appears once the proposal page exists (another module adds it).
    assert ("Propose an edit" in html(client, f"/partners/{org.id}")) == endpoint_exists


@pytest.mark.parametrize("case", ["missing", "non_public", "archived"])
def test_partner_profile_404(client, partners, case):
    if case == "missing":
        org_id = 987654
    elif case == "non_public":
        org_id = factories.make_org("Quiet Org", is_public=False).id
    else:
        org_id = factories.make_org("Gone Org", archived_at=utcnow()).id
    db.session.commit()
    resp = client.get(f"/partners/{org_id}")
    assert resp.status_code == 404
    assert "We could not find that page" in resp.get_data(as_text=True)


# --------------------------------------------------------------------------- agreement list


@pytest.fixture
def catalogue():
    un = factories.make_org("UN Country Team", country="KE")
    city = factories.make_org("City of Quito", country="EC", regions=("005",))
    agreements = {
        "nairobi": factories.make_agreement(
            "Nairobi water kiosks",
            parties=[un, (city, "funding")],
            agreement_type="mou",
            status="active",
            signed_on=date(2023, 5, 1),
            amount=Decimal("50000"),
            countries=("KE",),
            regions=(),
            domain_of_change=1,
            sdg_targets=("6.1", "11.1"),
        ),
        "quito": factories.make_agreement(
            "Quito public spaces",
            parties=[city],
            agreement_type="grant",
            status="closed",
            signed_on=date(2021, 2, 1),
            amount=Decimal("900000"),
            countries=("EC",),
            regions=(),
            domain_of_change=3,
            sdg_targets=("11.7",),
        ),
        # No country, only a region: found through agreement_regions.
        "sahel": factories.make_agreement(
            "Sahel resilience programme",
            parties=[un],
            agreement_type="contribution-agreement",
            status="signed",
            signed_on=date(2024, 9, 1),
            amount=Decimal("1200000"),
            countries=(),
            regions=("011",),
            domain_of_change=4,
            sdg_targets=("13.1",),
        ),
        "hidden": factories.make_agreement(
            "Confidential negotiation",
            parties=[un],
            agreement_type="mou",
            status="negotiation",
            visibility="internal",
            signed_on=date(2023, 8, 1),
            countries=("KE",),
            sdg_targets=("11.3",),
        ),
    }
    db.session.commit()
    return {"un": un, "city": city, **agreements}


TITLES = ["Nairobi water kiosks", "Quito public spaces", "Sahel resilience programme"]


def titles(body: str) -> set[str]:
    return {t for t in TITLES + ["Confidential negotiation"] if t in body}


def test_agreement_list_default_is_newest_first(client, catalogue):
    body = html(client, "/agreements/")
    assert row_order(body, TITLES) == [
        "Sahel resilience programme",
        "Nairobi water kiosks",
        "Quito public spaces",
    ]
    assert "Confidential negotiation" not in body
    assert "3 agreements" in body


def test_agreement_list_sorting(client, catalogue):
    assert row_order(html(client, "/agreements/?sort=title"), TITLES) == sorted(TITLES)
    assert row_order(html(client, "/agreements/?sort=amount"), TITLES) == [
        "Sahel resilience programme",
        "Quito public spaces",
        "Nairobi water kiosks",
    ]
    assert row_order(html(client, "/agreements/?sort=signed_asc"), TITLES) == [
        "Quito public spaces",
        "Nairobi water kiosks",
        "Sahel resilience programme",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("agreement_type=grant", {"Quito public spaces"}),
        ("status=active", {"Nairobi water kiosks"}),
        ("year=2021", {"Quito public spaces"}),
        (
            "region=002",
            {"Nairobi water kiosks", "Sahel resilience programme"},
        ),  # by country, by region
        (
            "region=202",
            {"Nairobi water kiosks", "Sahel resilience programme"},
        ),  # intermediate level
        ("region=419", {"Quito public spaces"}),
        ("region=150", set()),
        ("country=KE", {"Nairobi water kiosks"}),
        ("domain=3", {"Quito public spaces"}),
        ("sdg=11", {"Nairobi water kiosks", "Quito public spaces"}),  # goal → all 11.x
        ("sdg=11.7", {"Quito public spaces"}),
        ("sdg=6.1", {"Nairobi water kiosks"}),
        ("q=QUITO", {"Quito public spaces"}),
        ("region=002&domain=4", {"Sahel resilience programme"}),
    ],
)
def test_agreement_filters(client, catalogue, query, expected):
    assert titles(html(client, f"/agreements/?{query}")) == expected


def test_agreement_party_filter(client, catalogue):
    body = html(client, f"/agreements/?party={catalogue['city'].id}")
    assert titles(body) == {"Nairobi water kiosks", "Quito public spaces"}


def test_agreement_facets_count_only_visible_items(client, catalogue):
    body = html(client, "/agreements/")
    # Two MoUs exist, but one is internal: the public count is 1.
    assert '<option value="mou">Memorandum of understanding (1)</option>' in body
    assert '<option value="negotiation">' not in body
    assert '<option value="2023">2023 (1)</option>' in body
    assert re.search(r'<option value="11">\s*Goal 11 \(2\)</option>', body)
    assert re.search(r'<option value="11.1">\s*11.1 \(1\)</option>', body)
    assert '<option value="11.3">' not in body  # only the internal agreement has 11.3


def test_agreement_facets_follow_other_filters(client, catalogue):
    body = html(client, "/agreements/?region=002")
    assert '<option value="grant">' not in body  # Quito is not in Africa
    assert '<option value="mou">Memorandum of understanding (1)</option>' in body
    # The region facet ignores the region filter, so Latin America stays offered.
    assert re.search(r'<option value="419">\s*Latin America and the Caribbean \(1\)</option>', body)


def test_agreement_list_bad_arguments_never_fail(client, catalogue):
    resp = client.get("/agreements/?page=abc&year=xyz&domain=9&sdg=99&party=abc&region=77&sort=x")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert titles(body) == set(TITLES)  # every filter ignored
    assert "The year must be four digits" in body
    assert "The domain of change must be 1 to 4" in body
    assert "The SDG must be a goal" in body
    assert "Unknown partner" in body
    assert "Unknown region code" in body


def test_agreement_list_pagination(client, catalogue):
    first = html(client, "/agreements/?per_page=2")
    second = html(client, "/agreements/?per_page=2&page=2")
    assert len(titles(first)) == 2 and len(titles(second)) == 1
    assert titles(first) | titles(second) == set(TITLES)
    beyond = html(client, "/agreements/?per_page=2&page=50")
    assert titles(beyond) == titles(second)  # past the end: the last page


# --------------------------------------------------------------------------- CSV


def test_csv_is_the_filtered_list_with_bom(client, catalogue):
    resp = client.get("/agreements/?format=csv&region=002&sort=title")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.data.startswith("\ufeff".encode())
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = csv_rows(resp)
    assert [r["title"] for r in rows] == ["Nairobi water kiosks", "Sahel resilience programme"]
    nairobi = rows[0]
    assert nairobi["agreement_type"] == "mou"
    assert nairobi["signed_on"] == "2023-05-01"
    assert nairobi["amount"] == "50000.00"
    assert nairobi["sdg_targets"] == "11.1;6.1" or nairobi["sdg_targets"] == "6.1;11.1"
    assert nairobi["countries"] == "KE"
    assert nairobi["parties"] == "UN Country Team|implementing;City of Quito|funding"


def test_csv_keeps_non_latin_text_and_defuses_formulas(client):
    factories.make_agreement("城市伙伴关系 — الشراكة", summary='=HYPERLINK("http://evil")')
    db.session.commit()
    rows = csv_rows(client.get("/agreements/?format=csv"))
    assert rows[0]["title"] == "城市伙伴关系 — الشراكة"
    assert rows[0]["summary"].startswith("'=")


# --------------------------------------------------------------------------- agreement page


def test_agreement_page_shows_everything(client, catalogue):
    a = catalogue["nairobi"]
    factories.make_document(a, filename="signed-mou.pdf", title="Signed MoU")
    db.session.commit()
    body = html(client, f"/agreements/{a.id}")
    for text in (
        a.reference,
        "Nairobi water kiosks",
        "Upgrading informal settlements",
        "Memorandum of understanding",
        "Active",
        "IATI activity status 2",
        "50,000 USD",
        "Reduced spatial inequality",
        "6.1",
        "11.1",
        "Kenya",
        "UN Country Team",
        "Implementing",
        "Funding",
        "Signed MoU",
    ):
        assert text in body, text
    assert f"/agreements/{a.id}/documents/" in body
    # The visibility badge is for staff only.
    assert "badge-public" not in body


def test_agreement_page_visibility_badge_for_staff(client, catalogue):
    staff = factories.make_user(Role.STAFF)
    db.session.commit()
    login(client, staff.email)
    body = html(client, f"/agreements/{catalogue['hidden'].id}")
    assert "badge-internal" in body and "Internal" in body


@pytest.mark.parametrize("case", ["missing", "internal", "archived"])
def test_agreement_page_404(client, catalogue, case):
    if case == "missing":
        agreement_id = 424242
    elif case == "internal":
        agreement_id = catalogue["hidden"].id
    else:
        catalogue["quito"].archived_at = utcnow()
        db.session.commit()
        agreement_id = catalogue["quito"].id
    assert client.get(f"/agreements/{agreement_id}").status_code == 404


# --------------------------------------------------------------------------- documents


def test_document_download_is_an_attachment_with_its_name(client, catalogue):
    doc = factories.make_document(catalogue["nairobi"], filename="Accord signé.pdf")
    db.session.commit()
    resp = client.get(f"/agreements/{catalogue['nairobi'].id}/documents/{doc.id}")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "Accord%20sign%C3%A9.pdf" in disposition  # RFC 5987 filename*
    assert resp.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("content_type", "served_as"),
    [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("image/png", "image/png"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("text/csv", "text/csv"),
    ],
)
def test_document_content_types(client, catalogue, content_type, served_as):
    doc = factories.make_document(
        catalogue["nairobi"],
        filename="file.bin",
        content=b"<script>alert(1)</script>",
        content_type=content_type,
    )
    db.session.commit()
    resp = client.get(f"/agreements/{catalogue['nairobi'].id}/documents/{doc.id}")
    assert resp.status_code == 200
    assert resp.mimetype == served_as
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_document_of_another_agreement_is_404(client, catalogue):
    doc = factories.make_document(catalogue["quito"])
    db.session.commit()
    resp = client.get(f"/agreements/{catalogue['nairobi'].id}/documents/{doc.id}")
    assert resp.status_code == 404


def test_document_missing_on_disk_is_404(client, catalogue):
    doc = factories.make_document(catalogue["nairobi"], write_file=False)
    db.session.commit()
    assert (
        client.get(f"/agreements/{catalogue['nairobi'].id}/documents/{doc.id}").status_code == 404
    )


def test_document_of_hidden_agreement_is_404(client, catalogue):
    doc = factories.make_document(catalogue["hidden"])
    db.session.commit()
    assert client.get(f"/agreements/{catalogue['hidden'].id}/documents/{doc.id}").status_code == 404


# --------------------------------------------------------------------------- regions


def tree_counts(body: str, code: str, name: str) -> tuple[int, int] | None:
    """(partners, agreements) shown next to a region in the tree."""
    match = re.search(
        rf'href="/regions/{code}">{name}</a>\s*<span class="muted">'
        r"— (\d+) partners?, (\d+) agreements?",
        body,
    )
    return (int(match.group(1)), int(match.group(2))) if match else None


def test_region_tree_with_counts(client, catalogue):
    body = html(client, "/regions/")
    # Continent → sub-region → intermediate region, each a link.
    assert (
        'href="/regions/002"' in body
        and 'href="/regions/202"' in body
        and 'href="/regions/011"' in body
    )
    # Partners: UN Country Team (Kenya). Agreements: Nairobi + Sahel; not the internal one.
    assert tree_counts(body, "002", "Africa") == (1, 2)
    assert tree_counts(body, "150", "Europe") == (0, 0)


def test_region_page_drills_down(client, catalogue):
    body = html(client, "/regions/002")
    assert "<h1>Africa" in body
    assert 'href="/regions/202"' in body and "Sub-Saharan Africa" in body  # sub-region row
    assert "Kenya" in body  # country with activity
    assert "Chad" not in body  # a country with nothing to show is left out on a continent page
    assert "UN Country Team" in body
    assert "Nairobi water kiosks" in body and "Sahel resilience programme" in body
    assert "Confidential negotiation" not in body and "Quito public spaces" not in body
    assert 'href="/partners/?region=002"' in body and 'href="/agreements/?region=002"' in body


def test_leaf_region_lists_all_its_countries(client, catalogue):
    body = html(client, "/regions/011")  # Western Africa
    assert 'Africa</a> › <a href="/regions/202">Sub-Saharan Africa</a>' in body
    assert "Nigeria" in body and "Senegal" in body
    assert "Sahel resilience programme" in body


def test_country_page(client, catalogue):
    body = html(client, "/regions/country/ke")
    assert "<h1>Kenya" in body
    assert "UN Country Team" in body
    assert "Nairobi water kiosks" in body
    assert "Confidential negotiation" not in body
    assert 'href="/regions/014"' in body  # breadcrumb to Eastern Africa


@pytest.mark.parametrize(
    "url", ["/regions/999", "/regions/abc", "/regions/country/XX", "/regions/country/KEN"]
)
def test_unknown_region_or_country_is_404(client, url):
    assert client.get(url).status_code == 404


def test_home_page_links_to_catalogue_pages(client, catalogue):
    body = html(client, "/")
    assert 'href="/agreements/?status=active"' in body
    assert 'href="/regions/002"' in body
    assert f'href="/agreements/{catalogue["sahel"].id}"' in body
    assert html(client, "/agreements/?status=active").count("Nairobi water kiosks") == 1


def test_a_page_past_the_end_shows_the_last_page(client, factories):
    """``?page=999`` once said "showing 23953–30"; now it is the last page, numbered right."""
    for n in range(30):
        factories.make_agreement(title=f"Housing agreement {n:02d}")
    db.session.commit()
    html = client.get("/agreements/?page=999&per_page=20").get_data(as_text=True)
    assert "showing 21–30" in html
    assert "23953" not in html


def test_home_region_counts_match_the_region_pages(client, factories):
    """Home said "Africa 79" and linked to an Africa page saying 87: home counted partners by
    head-office country only, the region page also counts partners serving the region."""
    from portal.partners.queries import partner_counts_by_region

    factories.make_org("Based in Kenya", country="KE", regions=("014",))
    factories.make_org("Based in France, works in Africa", country="FR", regions=("002",))
    factories.make_org("Based in France", country="FR", regions=("155",))
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    africa = re.search(r'href="/regions/002">Africa</a></td><td>(\d+)</td>', html)
    assert africa, html[:3000]
    from flask_login import AnonymousUserMixin

    assert int(africa.group(1)) == partner_counts_by_region(AnonymousUserMixin())["002"] == 2


def test_favicon_is_served(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/vnd.microsoft.icon"
    assert resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in client.get("/").get_data(as_text=True)
