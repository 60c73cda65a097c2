"""Pages cost a bounded number of SQL statements, whatever the amount of data (no N+1).

Counts the statements one request runs with a small and a larger catalogue; the numbers must
be equal. Every catalogue list page (agreement list plain, filtered and paged; the directory
by each sort; region, country and partner pages; home; /insights) is checked with the demo
generator's catalogue at 1,000 and at 10,000 agreements (issue 17 item 2; built once for the
module with bulk INSERTs and ANALYZE: 10–20 s on SQLite, 15–25 s on PostgreSQL).
``/partners/<id>`` once ran one `countries` query per agreement (723 statements)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from portal.extensions import db


@contextmanager
def counting():
    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def statements_for(client, url: str) -> int:
    db.session.expire_all()  # requests share the test's session: start from an empty map
    with counting() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_partner_page_statements_do_not_grow_with_its_agreements(client, factories):
    org = factories.make_org("Habitat Alliance Kenya")
    factories.make_agreement(parties=[org], countries=("KE",))
    db.session.commit()
    url = f"/partners/{org.id}"
    client.get(url)  # warm-up: reference data, sessions
    few = statements_for(client, url)
    for n in range(25):
        factories.make_agreement(parties=[org], countries=("KE", "TZ") if n % 2 else ("UG",))
    db.session.commit()
    client.get(url)  # the first request after a change rebuilds the catalogue index
    many = statements_for(client, url)
    assert many == few, f"{few} statements with 1 agreement, {many} with 26"


def test_agreement_list_statements_do_not_grow_with_the_catalogue(client, factories):
    org = factories.make_org()
    factories.make_agreement(parties=[org])
    db.session.commit()
    client.get("/agreements/")
    few = statements_for(client, "/agreements/")
    for _ in range(25):
        factories.make_agreement(parties=[factories.make_org()], countries=("KE", "TZ"))
    db.session.commit()
    # The first request after a change rebuilds the catalogue index (a fixed number of
    # statements, whatever the size); steady state is what must not grow.
    client.get("/agreements/")
    many = statements_for(client, "/agreements/")
    assert many == few, f"{few} statements with 1 agreement, {many} with 26"


def test_partner_page_lists_its_agreements_a_page_at_a_time(client, factories):
    """A partner in thousands of agreements (the organisation itself) gets a pager, not a
    3 MB page: the newest first, page 2 continues where page 1 stopped, the count is the
    total the viewer may see."""
    from datetime import date

    org = factories.make_org("Cities Alliance")
    for n in range(30):
        factories.make_agreement(
            parties=[org], title=f"Agreement number {n:02d}", signed_on=date(2020, 1, 1 + n)
        )
    factories.make_agreement(parties=[org], title="Hidden internal one", visibility="internal")
    db.session.commit()
    first = client.get(f"/partners/{org.id}").get_data(as_text=True)
    assert "30 agreements" in first  # the internal one is not counted for the public
    assert "Agreement number 29" in first and "Agreement number 05" in first
    assert "Agreement number 04" not in first  # page size 25: the oldest five are on page 2
    assert "Page 1 of 2" in first
    second = client.get(f"/partners/{org.id}?page=2").get_data(as_text=True)
    assert "Agreement number 04" in second and "Agreement number 00" in second
    assert "Agreement number 29" not in second
    assert "Hidden internal one" not in first + second
    # Past the end: the last page, never an empty list or an error.
    assert "Agreement number 00" in client.get(f"/partners/{org.id}?page=99").get_data(as_text=True)


# --------------------------------------------------------------------------- 1,000 → 10,000

SMALL, LARGE = 1_000, 10_000
# A page of 25 rows that loaded something per row would run 25+ statements even when the
# count does not grow with the catalogue; today's pages run 5–15 (2026-12-03).
STATEMENT_BUDGET = 20


def _catalogue_pages(busiest: int, typical: int, country: str) -> dict[str, str]:
    from portal.partners.queries import PARTNER_SORTS

    pages = {
        "agreement list": "/agreements/",
        "agreement list, filtered": "/agreements/?sdg=11&region=002",
        "agreement list, page 3": "/agreements/?page=3",
        "directory": "/partners/",
        "region page": "/regions/002",
        "country page": f"/regions/country/{country}",
        "partner page, busiest": f"/partners/{busiest}",
        "partner page, busiest, page 2": f"/partners/{busiest}?page=2",
        "partner page, typical": f"/partners/{typical}",
        "home": "/",
        "insights": "/insights/",
        "insights, one region": "/insights/?region=002",
    }
    for sort in PARTNER_SORTS:
        pages[f"directory by {sort}"] = f"/partners/?sort={sort}"
    # Staff see partners-only and internal agreements too: another visibility filter.
    for name in ("agreement list", "agreement list, filtered", "directory", "region page"):
        pages[f"{name}, as staff"] = pages[name]
    pages["partner page, busiest, as staff"] = pages["partner page, busiest"]
    pages["insights, as staff"] = pages["insights"]
    return pages


def _load_demo_catalogue(agreements: int) -> None:
    """The demo generator at ``agreements`` agreements, bulk-loaded (the same partners, so a
    larger size adds agreements to the same organisations: the busiest gets ten times more)."""
    from portal.demo import seed

    seed.GENERATED_AGREEMENTS = agreements - len(seed.data.REAL_AGREEMENTS)
    from portal.core.sqlite import refresh_statistics

    seed.load_demo(seed.build_demo_set(seed.country_region_codes()))
    db.session.commit()
    refresh_statistics(db.session)  # as `flask seed-demo` and the importers do after a bulk load
    db.session.commit()


def _statements(client, url: str) -> list[str]:
    client.get(url)  # warm-up: the first request after a change rebuilds the catalogue index
    db.session.expire_all()
    with counting() as statements:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return statements


@pytest.fixture(scope="module")
def statements_small_and_large(app):
    """Every catalogue page's statements with 1,000 and then 10,000 agreements (built once
    for the module with the demo generator's bulk INSERTs: a few seconds per size)."""
    from sqlalchemy import func, select

    from portal.accounts.models import Role
    from portal.agreements.models import AgreementParty
    from portal.demo import seed
    from portal.partners.models import Organization
    from tests import factories
    from tests.conftest import _empty_tables, login

    client, staff = app.test_client(), app.test_client()
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(seed, "GENERATED_AGREEMENTS", seed.GENERATED_AGREEMENTS)
        try:
            _load_demo_catalogue(SMALL)
            per_org = (
                select(AgreementParty.organization_id, func.count().label("n"))
                .join(Organization, Organization.id == AgreementParty.organization_id)
                .where(Organization.is_public)
                .group_by(AgreementParty.organization_id)
                .order_by(func.count(), AgreementParty.organization_id)
            )
            ranked = db.session.execute(per_org).all()
            busiest, typical = ranked[-1][0], ranked[len(ranked) // 2][0]
            pages = _catalogue_pages(busiest, typical, "KE")
            factories.make_user(Role.STAFF, email="staff-counts@example.org")
            db.session.commit()
            assert login(staff, "staff-counts@example.org").status_code == 302

            def measure_all():
                return {
                    name: _statements(staff if name.endswith("as staff") else client, url)
                    for name, url in pages.items()
                }

            small = measure_all()
            _load_demo_catalogue(LARGE)
            large = measure_all()
            busiest_agreements = db.session.scalar(
                select(func.count()).where(AgreementParty.organization_id == busiest)
            )
        finally:
            db.session.rollback()
            db.session.remove()
            _empty_tables()
    return pages, small, large, busiest_agreements


PAGE_NAMES = list(_catalogue_pages(1, 2, "KE"))


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_catalogue_page_statements_are_the_same_at_1k_and_10k_agreements(
    statements_small_and_large, page
):
    pages, small, large, busiest_agreements = statements_small_and_large
    assert busiest_agreements > 5_000  # the large catalogue really is large for this partner
    few, many = small[page], large[page]
    extra = [s[:160] for s in many if s not in few] or [s[:160] for s in many[len(few) :]]
    assert len(many) == len(few), (
        f"{pages[page]}: {len(few)} statements at {SMALL:,} agreements, {len(many)} at "
        f"{LARGE:,}; new ones: {extra[:5]}"
    )
    assert len(many) <= STATEMENT_BUDGET, (
        f"{pages[page]}: {len(many)} statements, more than {STATEMENT_BUDGET}: {many}"
    )
