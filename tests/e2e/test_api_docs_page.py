"""/api/v1/docs in Chromium: readable at 320 px, right-to-left in Arabic, keyboard reachable."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_api_docs_fit_a_phone_and_links_reach_operations(page, lang):
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(f"/api/v1/docs?lang={lang}")
    assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
    # Nothing but the wide tables (which scroll in their own box) is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # The contents link to each operation; following one by keyboard lands on it.
    link = page.locator('a[href="#op-listAgreements"]')
    link.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#op-listAgreements"
    assert page.locator("#op-listAgreements").is_visible()
