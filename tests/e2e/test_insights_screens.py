"""Issue 10 browser acceptance: screenshots of /insights in English and Arabic, checked in
Chromium — the page does not scroll sideways (desktop and 320 px), the charts are SVG with their
accessible names, and in Arabic the charts are mirrored: the year axis runs right to left and
the value axis stands on the right, while the map keeps its geography.

The screenshots are written to ``PORTAL_TEST_ARTIFACTS`` when it is set (CI keeps them), else
to the test's temporary directory; each must be a real PNG of the rendered page.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portal.extensions import db

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n"


def _catalogue(factories) -> int:
    """Agreements over nine years in five countries and two currencies; the funder's id."""
    donor = factories.make_org("Fonds pour les villes", country="FR", regions=("155",))
    local = factories.make_org("شبكة المدن العربية", country="JO", regions=("145",))
    places = [("KE", "014"), ("JO", "145"), ("CO", "005"), ("IN", "034"), ("FR", "155")]
    for year in range(2016, 2025):
        for index, (country, region) in enumerate(places):
            if (year + index) % 2:
                continue
            factories.make_agreement(
                f"Programme {year}-{country}",
                countries=(country,),
                regions=(region,),
                signed_on=date(year, 3, 1),
                amount=Decimal(50_000 * (index + 1)),
                currency="EUR" if index == 4 else "USD",
                sdg_targets=("11.1", f"{6 + index}.1"),
                domain_of_change=1 + index % 4,
                parties=[(donor, "funding"), (local, "implementing")],
            )
    db.session.commit()
    return donor.id


def _shot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("PORTAL_TEST_ARTIFACTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def _year_columns(page) -> list[float]:
    """Screen x of each column of the year chart, in year order."""
    return page.eval_on_selector_all(
        "#insights-year rect.column", "rects => rects.map(r => r.getBoundingClientRect().x)"
    )


def _axis_side(page) -> str:
    """Which side of the plot the value-axis labels are on, on screen."""
    return page.evaluate(
        """() => {
            const svg = document.querySelector('#insights-year').getBoundingClientRect();
            const label = document.querySelector('#insights-year text.axis-label');
            const box = label.getBoundingClientRect();
            return box.x + box.width / 2 < svg.x + svg.width / 2 ? 'left' : 'right';
        }"""
    )


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_insights_screenshots_english_and_arabic(browser, live_server, factories, tmp_path, lang):
    _catalogue(factories)
    shots = _shot_dir(tmp_path)
    for width in (1280, 320):
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 900}, locale=lang
        )
        try:
            page = context.new_page()
            page.goto(f"/insights/?lang={lang}")
            assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
            charts = page.locator("svg.insight-chart[role=img]")
            assert charts.count() >= 6
            assert page.locator("svg.insight-map[role=img] path.country").count() > 150
            # Every chart has an accessible name and a description (the text summary).
            for index in range(charts.count()):
                chart = charts.nth(index)
                labelled = chart.get_attribute("aria-labelledby").split()
                for element_id in labelled:
                    assert (page.locator(f"[id='{element_id}']").text_content() or "").strip()
            _no_sideways_scroll(page)
            xs = _year_columns(page)
            assert len(xs) == 9  # 2016 … 2024
            if lang == "ar":
                assert xs == sorted(xs, reverse=True), "Arabic: time runs right to left"
                assert _axis_side(page) == "right"
            else:
                assert xs == sorted(xs)
                assert _axis_side(page) == "left"
            # The map is geography, never mirrored: France is east (right) of Colombia.
            france = page.locator("svg.insight-map path[data-numeric='250']").bounding_box()
            colombia = page.locator("svg.insight-map path[data-numeric='170']").bounding_box()
            assert france["x"] > colombia["x"]
            path = shots / f"insights-{lang}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.read_bytes()[:8] == PNG and path.stat().st_size > 20_000
        finally:
            context.close()


def test_scoped_pictures_fit_a_phone_in_arabic(browser, live_server, factories, tmp_path):
    """The map and charts on region, country and partner pages: 320 px, right to left."""
    donor_id = _catalogue(factories)
    shots = _shot_dir(tmp_path)
    context = browser.new_context(
        base_url=live_server, viewport={"width": 320, "height": 800}, locale="ar"
    )
    try:
        page = context.new_page()
        for name, url in [
            ("region", "/regions/002?lang=ar"),
            ("country", "/regions/country/KE?lang=ar"),
            ("partner", f"/partners/{donor_id}?lang=ar"),
        ]:
            page.goto(url)
            assert page.locator(".scoped-insights svg.insight-map[role=img]").count() == 1, name
            assert page.locator(".scoped-insights svg.insight-chart[role=img]").count() >= 1, name
            _no_sideways_scroll(page)
            page.screenshot(path=str(shots / f"scoped-{name}-ar-320.png"), full_page=True)
        # The continent page zooms to Africa and outlines it: Kenya is drawn, Japan is not.
        page.goto("/regions/002?lang=ar")
        assert page.locator("svg.insight-map path.in-focus[data-numeric='404']").count() == 1
        assert page.locator("svg.insight-map path[data-numeric='392']").count() == 0
    finally:
        context.close()
