"""The catalogue index answers exactly what the SQL answers (issue 17).

A varied catalogue (every visibility, archived agreements and organisations, several currencies,
agreements without a value, a year or a domain, agreements in several countries, regions and
SDG goals, organisations that are a party in two roles) is queried through both paths with
random filters, by an anonymous visitor, a partner whose organisation is a party to
partners-only agreements, a partner of a hidden organisation and staff: facets, totals, charts
and the list's pages must be the same.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from portal.accounts.models import Role
from portal.agreements import catalogue_index
from portal.agreements.models import Agreement
from portal.agreements.queries import (
    AGREEMENT_SORTS,
    AgreementFilters,
    agreement_facets,
    agreements_query,
    indexed_page_ids,
)
from portal.extensions import db
from portal.partners.queries import RegionTree
from tests import factories as f
from tests.conftest import login

COUNTRIES = ["KE", "TZ", "UG", "BR", "FR", "IN", "CN", "EG", "US"]
REGIONS = ["014", "002", "419", "142", "150"]
TARGETS = ["11.1", "11.3", "11.a", "1.4", "6.2", "13.1", "17.17"]


def _catalogue(seed: int = 7):
    rng = random.Random(seed)
    orgs = [
        f.make_org(
            f"Partner {i:02d}",
            is_public=(i % 5 != 0),
            stakeholder_group=rng.choice(["civil-society", "local-government", "academia", None]),
        )
        for i in range(12)
    ]
    orgs[3].archived_at = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(90):
        parties = []
        for org in rng.sample(orgs, rng.randint(0, 3)):
            parties.append((org, rng.choice(["funding", "implementing", "accountable"])))
            if rng.random() < 0.2:
                parties.append((org, "extending"))
        f.make_agreement(
            f"{rng.choice(['Housing', 'Water', 'Été', 'Climate'])} agreement {n}",
            parties=parties,
            visibility=rng.choice(["public", "public", "partners", "internal"]),
            status=rng.choice(["active", "signed", "closed", "draft"]),
            agreement_type=rng.choice(["mou", "grant", "cooperation-agreement"]),
            countries=rng.sample(COUNTRIES, rng.randint(0, 3)),
            regions=rng.sample(REGIONS, rng.randint(0, 2)),
            sdg_targets=rng.sample(TARGETS, rng.randint(0, 3)),
            signed_on=rng.choice([None, date(2021, 5, 1), date(2023, 1, 9), date(2024, 12, 31)]),
            amount=rng.choice([None, Decimal("1000.50"), Decimal("250000.00"), Decimal("7.25")]),
            currency=rng.choice([None, "USD", "EUR", "KES"]),
            domain_of_change=rng.choice([None, 1, 2, 4]),
            archived_at=datetime(2025, 6, 1, tzinfo=UTC) if rng.random() < 0.08 else None,
        )
    partner = f.make_user(Role.PARTNER, organization=orgs[1])
    hidden_partner = f.make_user(Role.PARTNER, organization=orgs[5])  # a non-public organisation
    staff = f.make_user(Role.STAFF)
    db.session.flush()
    return rng, orgs, [AnonymousUserMixin(), partner, hidden_partner, staff]


def _random_filters(rng, orgs, user, tree) -> AgreementFilters:
    args = {}
    if rng.random() < 0.3:
        args["type"] = rng.choice(["mou", "grant", "cooperation-agreement"])
    if rng.random() < 0.3:
        args["status"] = rng.choice(["active", "signed", "closed"])
    if rng.random() < 0.3:
        args["year"] = rng.choice(["2021", "2023", "2024", "2030"])
    if rng.random() < 0.3:
        args["region"] = rng.choice(["002", "014", "019", "142", "150", "419"])
    if rng.random() < 0.3:
        args["country"] = rng.choice(COUNTRIES)
    if rng.random() < 0.3:
        args["domain"] = rng.choice(["1", "2", "4"])
    if rng.random() < 0.3:
        args["sdg"] = rng.choice(["11", "11.1", "11.a", "1", "6.2", "17"])
    if rng.random() < 0.3:
        args["party"] = str(rng.choice(orgs).id)
    args["sort"] = rng.choice(AGREEMENT_SORTS)
    return AgreementFilters.from_args(args, user, tree)


def _sql(app, fn):
    app.config["CATALOGUE_INDEX"] = False
    try:
        return fn()
    finally:
        app.config["CATALOGUE_INDEX"] = True


def test_facets_and_pages_match_sql_for_every_viewer(app):
    rng, orgs, viewers = _catalogue()
    tree = RegionTree.load()
    assert catalogue_index.snapshot() is not None
    for _round in range(40):
        for user in viewers:
            filters = _random_filters(rng, orgs, user, tree)
            indexed = agreement_facets(filters, user, tree)
            expected = _sql(app, lambda: agreement_facets(filters, user, tree))  # noqa: B023
            assert indexed == expected, (filters, user)
            ids, total, _page = indexed_page_ids(filters, user, tree, 1, 100)
            rows = db.session.scalars(agreements_query(filters, user, tree)).all()
            assert total == len(rows)
            if filters.sort == "title":  # Python and SQL lower() differ on accents: same set
                assert sorted(ids) == sorted(a.id for a in rows)
            else:
                assert ids == [a.id for a in rows], filters


def test_pages_past_the_first_and_clamping(app):
    _rng, _orgs, viewers = _catalogue()
    tree = RegionTree.load()
    staff = viewers[-1]
    filters = AgreementFilters.from_args({}, staff, tree)
    every = [a.id for a in db.session.scalars(agreements_query(filters, staff, tree))]
    ids, total, page = indexed_page_ids(filters, staff, tree, 2, 20)
    assert (ids, total, page) == (every[20:40], len(every), 2)
    ids, _total, page = indexed_page_ids(filters, staff, tree, 999, 20)
    assert page == -(-len(every) // 20) and ids == every[(page - 1) * 20 :]


def test_a_change_is_seen_by_the_next_request(app, client):
    _rng, orgs, viewers = _catalogue()
    tree = RegionTree.load()
    anonymous = viewers[0]
    filters = AgreementFilters.from_args({"sdg": "17"}, anonymous, tree)
    before = indexed_page_ids(filters, anonymous, tree, 1, 100)[1]
    first = catalogue_index.snapshot()

    # An ORM change, in this transaction: the token changes at once.
    f.make_agreement("A new public agreement", sdg_targets=("17.17",), visibility="public")
    assert catalogue_index.snapshot() is not first
    assert indexed_page_ids(filters, anonymous, tree, 1, 100)[1] == before + 1

    # Hiding an agreement (a changed column) and a Core UPDATE both count as changes.
    agreement = db.session.scalars(
        select(Agreement).where(Agreement.title == "A new public agreement")
    ).one()
    agreement.visibility = "internal"
    db.session.flush()
    assert indexed_page_ids(filters, anonymous, tree, 1, 100)[1] == before
    db.session.execute(
        Agreement.__table__.update().where(Agreement.id == agreement.id).values(visibility="public")
    )
    assert indexed_page_ids(filters, anonymous, tree, 1, 100)[1] == before + 1
    db.session.commit()

    # Through the pages, as a visitor sees them.
    page = client.get("/agreements/?sdg=17")
    assert page.status_code == 200
    assert "A new public agreement" in page.get_data(as_text=True)


def test_a_rolled_back_change_never_leaves_its_figures(app):
    _rng, _orgs, viewers = _catalogue()
    db.session.commit()
    tree = RegionTree.load()
    anonymous = viewers[0]
    filters = AgreementFilters.from_args({}, anonymous, tree)
    committed = indexed_page_ids(filters, anonymous, tree, 1, 10)[1]
    f.make_agreement("Rolled back", visibility="public")
    assert indexed_page_ids(filters, anonymous, tree, 1, 10)[1] == committed + 1
    db.session.rollback()
    assert indexed_page_ids(filters, anonymous, tree, 1, 10)[1] == committed


@pytest.mark.parametrize("who", ["anonymous", "partner", "staff"])
def test_the_list_page_shows_what_the_viewer_may_see(app, client, who):
    _rng, orgs, viewers = _catalogue()
    db.session.commit()
    tree = RegionTree.load()
    user = {"anonymous": viewers[0], "partner": viewers[1], "staff": viewers[3]}[who]
    if who != "anonymous":
        login(client, user.email)
    filters = AgreementFilters.from_args({"sort": "signed"}, user, tree)
    expected = _sql(
        app, lambda: [a.title for a in db.session.scalars(agreements_query(filters, user, tree))]
    )
    html = client.get("/agreements/?per_page=100").get_data(as_text=True)
    for title in expected:
        assert title in html
    hidden = {a.title for a in db.session.scalars(select(Agreement))} - set(expected)
    for title in hidden:
        assert f">{title}<" not in html


def test_insights_match_sql_for_every_viewer(app):
    from portal.insights.queries import build_insights

    rng, orgs, viewers = _catalogue(seed=11)
    tree = RegionTree.load()
    for _round in range(25):
        for user in viewers:
            filters = _random_filters(rng, orgs, user, tree)
            currency = rng.choice([None, "EUR", "KES", "XYZ"])
            indexed = build_insights(filters, user, tree, currency=currency)
            expected = _sql(
                app,
                lambda: build_insights(filters, user, tree, currency=currency),  # noqa: B023
            )
            assert indexed.totals == expected.totals, filters
            assert indexed.countries == expected.countries, filters
            assert indexed.regions == expected.regions, filters
            assert indexed.breakdowns == expected.breakdowns, filters
            assert indexed.currency == expected.currency


def test_partner_figures_match_sql_for_every_viewer(app):
    from portal.insights.queries import (
        catalogue_currencies,
        contribution_figures,
        partner_contribution,
    )

    _rng, orgs, viewers = _catalogue(seed=5)
    tree = RegionTree.load()
    today = date(2026, 6, 1)
    ids = [o.id for o in orgs]
    for user in viewers:
        assert catalogue_currencies(user) == _sql(app, lambda: catalogue_currencies(user))  # noqa: B023
        for currency in (None, "USD", "KES", "XYZ"):
            assert contribution_figures(ids, user, currency) == _sql(
                app,
                lambda: contribution_figures(ids, user, currency),  # noqa: B023
            )
        for org in orgs:
            assert partner_contribution(org, user, tree, today) == _sql(
                app,
                lambda: partner_contribution(org, user, tree, today),  # noqa: B023
            ), (org.name, user)


def test_region_country_and_partner_counts_match_sql(app):
    from portal.agreements.queries import agreement_counts_by_country, agreement_counts_by_region
    from portal.partners.queries import agreement_counts_for

    _rng, orgs, viewers = _catalogue(seed=3)
    ids = [o.id for o in orgs]
    for user in viewers:
        for fn in (
            lambda: agreement_counts_by_region(user),  # noqa: B023
            lambda: agreement_counts_by_country(user),  # noqa: B023
            lambda: agreement_counts_by_country(user, ["KE", "FR", "ZZ"]),  # noqa: B023
            lambda: agreement_counts_for(user, ids),  # noqa: B023
        ):
            assert fn() == _sql(app, fn)


def test_home_and_partner_counts_match_sql(app, client):
    from portal.partners.home_views import _from_index, _from_sql
    from portal.partners.queries import partner_counts_by_country, partner_counts_by_region

    _rng, _orgs, viewers = _catalogue(seed=9)
    db.session.commit()
    for user in viewers:
        for fn in (
            lambda: partner_counts_by_region(user),  # noqa: B023
            lambda: partner_counts_by_country(user),  # noqa: B023
            lambda: partner_counts_by_country(user, ["KE", "ZZ"]),  # noqa: B023
        ):
            assert fn() == _sql(app, fn)
        with app.test_request_context("/"):
            from flask_login import login_user

            if user.is_authenticated:
                login_user(user)
            indexed = _from_index(catalogue_index.snapshot())
            expected = _from_sql()
        assert indexed[0] == expected[0]
        assert [a.id for a in indexed[1]] == [a.id for a in expected[1]]
        assert [(o.id, n) for o, n in indexed[2]] == [(o.id, n) for o, n in expected[2]]
    assert client.get("/").status_code == 200


def test_directory_matches_sql_for_every_viewer_and_sort(app):
    from portal.partners.queries import (
        PARTNER_SORTS,
        PartnerFilters,
        indexed_directory_page,
        partner_facets,
        partners_query,
    )

    rng, orgs, viewers = _catalogue(seed=21)
    for n, org in enumerate(orgs):  # places, types and dates to filter and sort on
        org.country_code = rng.choice(["KE", "FR", "BR", None])
        org.org_type = rng.choice(["22", "10", "80"])
        org.partner_since = rng.choice([None, date(2015, 1, 1), date(2020, 7, 1)])
        org.name = rng.choice(["Alpha", "beta", "Gamma"]) + f" {n % 4}"  # ties to break
    db.session.flush()
    tree = RegionTree.load()
    for _round in range(30):
        for user in viewers:
            args = {"sort": rng.choice(PARTNER_SORTS)}
            if rng.random() < 0.3:
                args["region"] = rng.choice(["002", "014", "150", "419"])
            if rng.random() < 0.3:
                args["country"] = rng.choice(["KE", "FR", "BR"])
            if rng.random() < 0.3:
                args["org_type"] = rng.choice(["22", "10"])
            if rng.random() < 0.3:
                args["stakeholder_group"] = rng.choice(["civil-society", "academia"])
            args["currency"] = rng.choice(["USD", "EUR", "KES"])
            filters = PartnerFilters.from_args(args, tree)
            assert partner_facets(filters, user, tree) == _sql(
                app,
                lambda: partner_facets(filters, user, tree),  # noqa: B023
            ), args
            ids, total, _page = indexed_directory_page(filters, user, 1, 100)
            expected = [o.id for o in db.session.scalars(partners_query(filters, user, tree))]
            assert total == len(expected)
            assert ids == expected, args


def test_partner_pages_list_the_same_agreements_as_sql(app):
    from portal.agreements.queries import organization_agreements_page

    _rng, orgs, viewers = _catalogue(seed=4)
    for user in viewers:
        for org in orgs:
            for page in (1, 2, 99):
                indexed = organization_agreements_page(org, user, page, 4)
                expected = _sql(
                    app,
                    lambda: organization_agreements_page(org, user, page, 4),  # noqa: B023
                )
                assert (indexed.total, indexed.page) == (expected.total, expected.page)
                assert [(a.id, roles) for a, roles in indexed.items] == [
                    (a.id, roles) for a, roles in expected.items
                ]


def test_kept_pictures_follow_the_reader_the_language_and_every_change(app, client):
    """Region and country pages are kept with the catalogue snapshot (their picture, and now
    the whole body): they must differ by reader (staff see internal agreements) and language,
    and change with the catalogue."""
    org = f.make_org("Kept Picture Partner")
    f.make_agreement("Open one", countries=("KE",), parties=[org], amount=Decimal("111.00"))
    f.make_agreement("Internal one", countries=("KE",), visibility="internal")
    staff = f.make_user(Role.STAFF)
    db.session.commit()

    def agreements_shown(html: str) -> str:
        import re

        match = re.search(r'class="number">([^<]+)</span><span class="label">agreements', html)
        return match.group(1) if match else ""

    assert agreements_shown(client.get("/regions/country/KE").get_data(as_text=True)) == "1"
    assert agreements_shown(client.get("/regions/014").get_data(as_text=True)) == "1"
    arabic = client.get("/regions/country/KE?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "agreements</span>" not in arabic
    login(client, staff.email)
    assert agreements_shown(client.get("/regions/country/KE").get_data(as_text=True)) == "2"
    assert agreements_shown(client.get("/regions/014").get_data(as_text=True)) == "2"
    client.post("/auth/logout")
    client.delete_cookie("session")
    assert agreements_shown(client.get("/regions/country/KE").get_data(as_text=True)) == "1"
    assert agreements_shown(client.get("/regions/014").get_data(as_text=True)) == "1"
    f.make_agreement("Another open one", countries=("KE",))
    db.session.commit()
    assert agreements_shown(client.get("/regions/country/KE").get_data(as_text=True)) == "2"
    assert agreements_shown(client.get("/regions/014").get_data(as_text=True)) == "2"


def test_kept_partner_page_follows_the_reader_the_page_and_every_change(app, client):
    """The catalogue part of a partner page (contribution, picture, agreements) is kept with
    the snapshot: a member of the organisation sees its partners-only agreement, the public
    does not — whichever of them asked first — the pages differ, and a new agreement shows
    on the next request. The per-reader parts (contacts, edit buttons) are never kept."""
    org = f.make_org("Kept Page Partner")
    f.make_agreement("Open alpha", parties=[org], signed_on=date(2024, 3, 1))
    f.make_agreement("Members only beta", parties=[org], visibility="partners")
    member = f.make_user(Role.PARTNER, organization=org)
    staff = f.make_user(Role.STAFF)
    db.session.commit()
    url = f"/partners/{org.id}"

    public = client.get(url).get_data(as_text=True)
    assert "Open alpha" in public and "Members only beta" not in public
    login(client, member.email)
    mine = client.get(url).get_data(as_text=True)
    assert "Open alpha" in mine and "Members only beta" in mine
    client.post("/auth/logout")
    client.delete_cookie("session")
    assert "Members only beta" not in client.get(url).get_data(as_text=True)

    # One agreement a page: page 2 is its own fragment, and the pager's links keep per_page.
    first = client.get(f"{url}?per_page=1").get_data(as_text=True)
    second = client.get(f"{url}?per_page=1&page=2").get_data(as_text=True)
    assert "Open alpha" in first  # public sees one agreement: page 2 clamps to it
    assert "Open alpha" in second
    login(client, staff.email)
    staff_first = client.get(f"{url}?per_page=1").get_data(as_text=True)
    staff_second = client.get(f"{url}?per_page=1&page=2").get_data(as_text=True)
    assert ("Members only beta" in staff_first) != ("Members only beta" in staff_second)
    assert "per_page=1" in staff_first and "page=2" in staff_first
    assert ">Edit<" in staff_first  # staff's own button, not kept in the shared part
    client.post("/auth/logout")
    client.delete_cookie("session")
    assert ">Edit<" not in client.get(url).get_data(as_text=True)

    f.make_agreement("Fresh gamma", parties=[org], signed_on=date(2025, 1, 1))
    db.session.commit()
    assert "Fresh gamma" in client.get(url).get_data(as_text=True)
    arabic = client.get(f"{url}?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "Fresh gamma" in arabic
    assert "Agreements by role" not in arabic


def test_kept_insights_page_follows_the_reader_the_filters_and_every_change(app, client):
    """/insights is kept with the snapshot per reader class, language and query: staff count
    the internal agreement, the public does not, a filter is its own page, and a new
    agreement is counted on the next request."""
    import re

    f.make_agreement("Open one", countries=("KE",), regions=("014",))
    f.make_agreement("Internal one", countries=("FR",), visibility="internal")
    staff = f.make_user(Role.STAFF)
    db.session.commit()

    def counted(url: str) -> str:
        html = client.get(url).get_data(as_text=True)
        match = re.search(r'class="number">([^<]+)</span><span class="label">agreements', html)
        return match.group(1) if match else ""

    assert counted("/insights/") == "1"
    login(client, staff.email)
    assert counted("/insights/") == "2"
    assert counted("/insights/?country=FR") == "1"
    client.post("/auth/logout")
    client.delete_cookie("session")
    assert counted("/insights/") == "1"
    assert counted("/insights/?country=FR") in ("", "0")
    f.make_agreement("Another open one", countries=("KE",))
    db.session.commit()
    assert counted("/insights/") == "2"
    arabic = client.get("/insights/?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "agreements</span>" not in arabic


def test_kept_fragments_stay_within_their_budget(monkeypatch):
    """A crawler walking every partner page must not grow a worker without bound: the least
    recently used fragments leave first once the budget (text length) is reached."""
    monkeypatch.setattr(catalogue_index, "FRAGMENT_BUDGET", 1_000)
    kept = catalogue_index._Fragments()
    made = []

    def page(n):
        def produce():
            made.append(n)
            return "x" * 300

        return produce

    for n in range(3):
        kept.get(("page", n), page(n))
    kept.get(("page", 0), page(0))  # used again: now the most recent, still kept
    kept.get(("page", 3), page(3))  # 4 × 300 > 1,000: the least recent (page 1) leaves
    assert made == [0, 1, 2, 3]
    assert kept.size <= 1_000 and len(kept.entries) == 3
    kept.get(("page", 0), page(0))
    kept.get(("page", 2), page(2))
    assert made == [0, 1, 2, 3]  # both still kept
    kept.get(("page", 1), page(1))
    assert made == [0, 1, 2, 3, 1]  # page 1 had left and is made again
