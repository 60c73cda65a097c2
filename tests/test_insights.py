"""/insights, the scoped pictures on region, country and partner pages, partners' contributions.

What a reader would notice: hidden agreements never show up in the public's charts, map or
totals; a filter changes every chart and every download link; values are never added across
currencies; charts are mirrored for Arabic; bad query strings give a page, not a 500.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.insights.charts import map_classes
from tests.conftest import login


def _numeric(code: str) -> str:
    from portal.partners.models import Country

    return db.session.get(Country, code).numeric


def _map_counts(html: str) -> dict[str, int]:
    """ISO numeric → agreements, as drawn on the map (paths carry data-numeric/data-count)."""
    return {
        numeric: int(count)
        for numeric, count in re.findall(r'data-numeric="(\d{3})" data-count="(\d+)"', html)
    }


def _figures(client, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/insights/figures.csv{query}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.fixture
def catalogue(factories):
    """One public, one partners-only and one internal agreement, each in its own country and
    currency, so that any leak is visible in the map, the totals and the CSV."""
    member_org = factories.make_org("Shelter Trust", country="UG", regions=("014",))
    donor = factories.make_org("Open Donor", country="CH", regions=("155",), org_type="10")
    public = factories.make_agreement(
        "Public housing programme",
        countries=("KE",),
        agreement_type="grant",
        amount=Decimal("100000"),
        currency="USD",
        parties=[(donor, "funding"), (member_org, "implementing")],
        sdg_targets=("11.1",),
        domain_of_change=1,
    )
    partners_only = factories.make_agreement(
        "Partners-only drainage works",
        countries=("UG",),
        agreement_type="mou",
        amount=Decimal("7000"),
        currency="EUR",
        visibility="partners",
        parties=[(member_org, "implementing")],
        sdg_targets=("6.2",),
        domain_of_change=3,
    )
    internal = factories.make_agreement(
        "Internal negotiation",
        countries=("TZ",),
        agreement_type="letter-of-intent",
        amount=Decimal("555"),
        currency="GBP",
        visibility="internal",
        parties=[(donor, "funding")],
        sdg_targets=("13.1",),
        domain_of_change=4,
    )
    staff = factories.make_user("staff", email="staff@example.org")
    member = factories.make_user("partner", organization=member_org, email="member@example.org")
    db.session.commit()
    return {
        "public": public,
        "partners": partners_only,
        "internal": internal,
        "member_org": member_org,
        "donor": donor,
        "staff": staff,
        "member": member,
    }


def test_public_sees_only_public_agreements_in_charts_map_and_totals(client, catalogue):
    html = client.get("/insights/").get_data(as_text=True)
    counts = _map_counts(html)
    assert counts.get(_numeric("KE")) == 1
    assert counts.get(_numeric("UG"), 0) == 0
    assert counts.get(_numeric("TZ"), 0) == 0
    assert "EUR" not in html and "GBP" not in html
    charts = html[html.index('<div class="insights-body">') :]  # not the filter form's choices
    assert "Memorandum of understanding" not in charts  # the partners-only agreement's type
    assert "Goal 13" not in charts and "Goal 6:" not in charts
    rows = _figures(client)
    assert {r["key"] for r in rows if r["dimension"] == "country"} == {"KE"}
    assert {r["currency"] for r in rows if r["currency"]} == {"USD"}
    assert [r["count"] for r in rows if r["dimension"] == "type"] == ["1"]
    svg = client.get("/insights/map.svg")
    assert svg.mimetype == "image/svg+xml"
    assert _map_counts(svg.get_data(as_text=True)).get(_numeric("UG"), 0) == 0


def test_staff_see_every_agreement_and_partners_their_own(client, app, catalogue):
    login(client, "staff@example.org")
    counts = _map_counts(client.get("/insights/").get_data(as_text=True))
    assert counts[_numeric("KE")] == counts[_numeric("UG")] == counts[_numeric("TZ")] == 1
    assert {r["currency"] for r in _figures(client) if r["currency"]} == {"USD", "EUR", "GBP"}

    member = app.test_client()
    login(member, "member@example.org")
    html = member.get("/insights/").get_data(as_text=True)
    counts = _map_counts(html)
    assert counts[_numeric("UG")] == 1  # its own organisation's partners-only agreement
    assert counts.get(_numeric("TZ"), 0) == 0  # internal: staff only
    currencies = {r["currency"] for r in _figures(member) if r["currency"]}
    assert currencies == {"USD", "EUR"}


def test_filter_applies_to_every_chart_and_download_link(client, catalogue, factories):
    factories.make_agreement("Second grant", countries=("RW",), agreement_type="mou")
    db.session.commit()
    html = client.get("/insights/?type=grant").get_data(as_text=True)
    downloads = re.search(r'id="downloads-heading".*?</ul>', html, re.S).group(0)
    links = re.findall(r'href="([^"]+)"', downloads)
    assert len(links) == 4
    assert all("type=grant" in link for link in links)
    counts = _map_counts(html)
    assert counts.get(_numeric("KE")) == 1 and counts.get(_numeric("RW"), 0) == 0
    rows = _figures(client, "?type=grant")
    assert {r["key"] for r in rows if r["dimension"] == "country"} == {"KE"}
    assert {r["key"] for r in rows if r["dimension"] == "type"} == {"grant"}
    # The agreements CSV behind the charts follows the same filter.
    agreements_csv = client.get(links[1].replace("&amp;", "&")).get_data(as_text=True)
    assert "Public housing programme" in agreements_csv and "Second grant" not in agreements_csv


def test_values_stay_per_currency(client, factories):
    org = factories.make_org("Mixed Funder")
    factories.make_agreement(amount=Decimal("1000"), currency="USD", parties=[(org, "funding")])
    factories.make_agreement(amount=Decimal("2000"), currency="EUR", parties=[(org, "funding")])
    factories.make_agreement(amount=Decimal("4000"), currency="USD", parties=[(org, "funding")])
    db.session.commit()
    html = client.get("/insights/").get_data(as_text=True)
    assert "$5,000" in html and "€2,000" in html
    assert "7,000" not in html  # never 5,000 + 2,000
    assert "EUR" in html  # the other currency is offered for the value charts
    eur = client.get("/insights/?currency=EUR").get_data(as_text=True)
    assert "Value in EUR" in eur


def test_arabic_charts_are_mirrored(client, factories):
    factories.make_agreement(signed_on=date(2019, 5, 1))
    factories.make_agreement(signed_on=date(2023, 5, 1))
    db.session.commit()

    def column_xs(html: str) -> list[float]:
        chart = re.search(r'<svg[^>]*id="insights-year".*?</svg>', html, re.S).group(0)
        return [float(x) for x in re.findall(r'<rect x="([\d.]+)"[^>]*class="bar column"', chart)]

    english = client.get("/insights/?lang=en").get_data(as_text=True)
    arabic = client.get("/insights/?lang=ar").get_data(as_text=True)
    assert 'direction="rtl"' in arabic and 'direction="ltr"' in english
    en_x, ar_x = column_xs(english), column_xs(arabic)
    assert len(en_x) == len(ar_x) == 5  # 2019 … 2023, the years between shown as zero
    assert en_x == sorted(en_x)  # time runs left to right …
    assert ar_x == sorted(ar_x, reverse=True)  # … and right to left in Arabic


def test_charts_are_accessible_svg_with_tables_and_summaries(client, catalogue):
    html = client.get("/insights/").get_data(as_text=True)
    # Every chart and the map; legend swatches are decorative (aria-hidden), not charts.
    charts = [tag for tag in re.findall(r"<svg[^>]*>", html) if 'aria-hidden="true"' not in tag]
    assert len(charts) >= 7  # map + six breakdowns (value charts come on top)
    for tag in charts:
        assert 'role="img"' in tag and "aria-labelledby" in tag
    for name in ("region", "year", "type", "domain", "sdg", "stakeholder_group"):
        section = re.search(rf'<section class="insight" id="{name}".*?</section>', html, re.S)
        assert section, name
        assert "<table" in section.group(0) and "chart-summary" in section.group(0)
    assert "Goal 11: Sustainable cities and communities has the most" in html
    assert "Natural Earth" in html


def test_bad_query_strings_give_the_page_with_a_note(client, catalogue):
    for query in ("?year=abc", "?currency=12", "?currency=XYZ", "?region=999", "?sdg=99.9"):
        response = client.get(f"/insights/{query}")
        assert response.status_code == 200, query
        assert "flash-warning" in response.get_data(as_text=True), query
    assert client.get("/insights/map?country=ZZ").status_code == 200
    assert client.get("/insights/map.svg?party=abc").status_code == 200


def test_region_country_and_partner_pages_show_the_scoped_picture(client, catalogue):
    region = client.get("/regions/014").get_data(as_text=True)  # Eastern Africa
    assert 'class="scoped-insights' in region
    assert re.search(rf'data-numeric="{_numeric("KE")}" data-count="1"', region)
    assert 'class="country in-focus"' in region  # the region's countries are outlined
    assert _map_counts(region).get(_numeric("UG"), 0) == 0  # still the public's view
    country = client.get("/regions/country/KE").get_data(as_text=True)
    assert 'class="scoped-insights' in country and "/insights/?country=KE" in country
    partner = client.get(f"/partners/{catalogue['donor'].id}").get_data(as_text=True)
    assert f"/insights/?party={catalogue['donor'].id}" in partner


def test_partner_contribution_by_role_and_currency(client, catalogue, factories):
    donor = catalogue["donor"]
    factories.make_agreement(
        "Second public grant",
        countries=("SN",),
        regions=("011",),
        amount=Decimal("50000"),
        currency="EUR",
        parties=[(donor, "funding")],
        signed_on=date(2021, 6, 1),
    )
    db.session.commit()
    html = client.get(f"/partners/{donor.id}").get_data(as_text=True)
    section = re.search(r'<section class="card contribution".*?</section>', html, re.S).group(0)
    assert re.search(r'data-role="funding">Funding: 2 agreements<', section)
    funded = re.search(r'data-values="funding">(.*?)</ul>', section, re.S).group(1)
    assert "$100,000" in funded and "€50,000" in funded
    assert "GBP" not in section  # the internal agreement is not the public's business
    assert "Kenya" in section and "Senegal" in section and "Tanzania" not in section
    assert "agreements signed 2021–2024" in section
    since = donor.partner_since.year
    assert f"since {since}" in section

    login(client, "staff@example.org")
    staff_view = client.get(f"/partners/{donor.id}").get_data(as_text=True)
    section = re.search(r'<section class="card contribution".*?</section>', staff_view, re.S)
    assert "£555" in section.group(0)


def test_directory_sorts_by_contribution(client, factories):
    small = factories.make_org("Aardvark Small Funder")
    big = factories.make_org("Zebra Big Funder")
    implementer = factories.make_org("Middle Implementer")
    factories.make_agreement(amount=Decimal("10"), parties=[(small, "funding")])
    for _ in range(3):
        factories.make_agreement(
            amount=Decimal("900"), parties=[(big, "funding"), (implementer, "implementing")]
        )
    factories.make_agreement(
        amount=Decimal("5"),
        currency="EUR",
        parties=[(small, "funding"), (implementer, "implementing")],
    )
    factories.make_agreement(
        amount=Decimal("99999"), visibility="internal", parties=[(small, "funding")]
    )
    both = factories.make_org("Both Roles")  # funds and implements the same agreement
    factories.make_agreement(
        amount=Decimal("300"), parties=[(both, "funding"), (both, "implementing")]
    )
    db.session.commit()

    def order(query: str) -> list[str]:
        html = client.get(f"/partners/{query}").get_data(as_text=True)
        names = re.findall(r'<a href="/partners/\d+"[^>]*>([^<]+)</a>', html)
        return [n for n in names if n in {small.name, big.name, implementer.name}]

    assert order("?sort=funding")[:2] == [big.name, small.name]
    assert order("?sort=implementing")[0] == implementer.name
    # In USD the funder and the implementer of the 2,700 lead; the small funder's hidden
    # 99,999 does not count for the public, so it comes last with 10.
    by_usd = order("?sort=value&currency=USD")
    assert set(by_usd[:2]) == {big.name, implementer.name} and by_usd[2] == small.name
    assert order("?sort=value&currency=EUR")[0] in (small.name, implementer.name)
    html = client.get("/partners/?sort=value&currency=USD").get_data(as_text=True)
    assert "Value it funds or implements (USD)" in html and "$2,700" in html
    assert "$300" in html and "$600" not in html  # one agreement, two roles: counted once
    assert client.get("/partners/?sort=value&currency=1x").status_code == 200


def test_map_classes_have_round_bounds_and_cover_every_count():
    classes = map_classes([1, 1, 2, 3, 4, 8, 12, 30, 55, 120])
    assert classes[0].low == 1 and classes[-1].high == 120
    for lower, upper in zip(classes, classes[1:], strict=False):
        assert upper.low == lower.high + 1
    assert map_classes([]) == []
    single = map_classes([3])
    assert single[0].low == 1 and single[-1].high == 3


def test_legend_colours_match_the_map(client, catalogue):
    """The legend's swatches are tiny SVGs (no inline styles under the CSP) in the map's colours."""
    from portal.insights.charts import MAP_EMPTY

    html = client.get("/insights/").get_data(as_text=True)
    legend = re.search(r'<ul class="map-legend".*?</ul>', html, re.S).group(0)
    swatches = re.findall(r'<rect width="1" height="1" fill="(#[0-9a-f]{6})"/>', legend)
    fills = set(re.findall(r'class="country[^"]*"[^>]* fill="(#[0-9a-f]{6})"', html))
    assert swatches[0] == MAP_EMPTY and set(swatches[1:]) >= fills - {MAP_EMPTY}
    assert 'style="' not in html
