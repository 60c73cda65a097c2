"""Issue 2 browser acceptance: staff log in, create an agreement with two parties in the real
form, and the public (a fresh, anonymous browser context) finds it on the agreement list."""

from __future__ import annotations

import pytest

from portal.extensions import db
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e


def test_staff_creates_agreement_with_two_parties_public_finds_it(
    page, browser, live_server, factories
):
    staff = factories.make_user("staff", email="staff@example.org", name="Amina Staff")
    factories.make_org("Catalytic Action", country="LB", regions=("145",))
    factories.make_org(
        "Université Cheikh Anta Diop de Dakar", country="SN", regions=("011",), org_type="80"
    )
    db.session.commit()

    page.goto("/account/login")
    page.get_by_label("E-mail").fill(staff.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/account/login" not in url)

    page.goto("/agreements/new")
    page.get_by_label("Reference").fill("UNH/2026/LB/777")
    page.get_by_label("Title").fill("Espaces publics inclusifs à Beyrouth")
    page.get_by_label("Summary").fill(
        "Community-led public space upgrading with refugee and host communities."
    )
    page.get_by_label("Type").select_option("cooperation-agreement")
    page.get_by_label("Status").select_option("active")
    page.get_by_label("Visibility").select_option("public")
    page.get_by_label("Signed on").fill("2026-02-10")
    page.get_by_label("Starts on").fill("2026-03-01")
    page.get_by_label("Ends on").fill("2027-02-28")
    page.get_by_label("Amount").fill("480000.00")
    page.get_by_label("Currency (ISO 4217)").fill("USD")
    page.get_by_label("SDG targets").fill("11.1; 11.7")
    page.get_by_label("Countries").select_option("LB")
    page.get_by_label("Organisation, row 1").select_option(label="Catalytic Action — LB")
    page.get_by_label("Role, row 1").select_option("implementing")
    page.get_by_label("Organisation, row 2").select_option(
        label="Université Cheikh Anta Diop de Dakar — SN"
    )
    page.get_by_label("Role, row 2").select_option("extending")
    page.get_by_role("button", name="Create agreement").click()
    page.wait_for_load_state()
    assert page.locator(".flash-error").count() == 0, page.locator("main").inner_text()

    # An anonymous visitor, in a separate browser context with no cookies, finds it.
    public = browser.new_context(base_url=live_server)
    try:
        visitor = public.new_page()
        visitor.goto("/agreements/")
        link = visitor.get_by_role("link", name="Espaces publics inclusifs à Beyrouth")
        assert link.count() == 1
        link.click()
        body = visitor.locator("main").inner_text()
        assert "UNH/2026/LB/777" in body
        assert "Catalytic Action" in body
        assert "Université Cheikh Anta Diop de Dakar" in body
        assert "Implementing" in body and "Extending" in body
    finally:
        public.close()
