"""Every export file runs the same statements at 1,000 and at 10,000 agreements — built anew
(the catalogue just changed) or sent from the export cache — for the public, a partner member
and staff (docs/open-data.md, "Streaming, caching and memory")."""

from __future__ import annotations

import pytest

from portal.agreements import catalogue_index
from portal.extensions import db
from tests.test_statement_counts import LARGE, SMALL, _load_demo_catalogue, counting

EXPORTS = {
    "IATI activities": ("/open-data/iati/activities.xml", None),
    "IATI organisations": ("/open-data/iati/organisations.xml", None),
    "agreements.csv": ("/open-data/agreements.csv", None),
    "agreements.json": ("/open-data/agreements.json", None),
    "agreements.xlsx": ("/open-data/agreements.xlsx", None),
    "partners.csv": ("/open-data/partners.csv", None),
    "partners.xlsx": ("/open-data/partners.xlsx", None),
    "agreement list csv": ("/agreements/?format=csv", None),
    "agreement list csv, partner": ("/agreements/?format=csv", "partner"),
    "agreement list csv, staff": ("/agreements/?format=csv", "staff"),
    "agreement list json, staff, filtered": ("/agreements/?format=json&sdg=11", "staff"),
    "agreement list xlsx, staff": ("/agreements/?format=xlsx", "staff"),
    "directory csv, staff": ("/partners/?format=csv", "staff"),
}
# Built anew: the token and document state, the list's own lookups, one query per stream.
BUDGET_BUILT = 15
# From the cache: the token, the document state, the list's own lookups; no catalogue rows.
BUDGET_CACHED = 6


def _measure(client, url: str, *, fresh: bool) -> list[str]:
    if fresh:  # what any committed change does: the cached copies no longer apply
        catalogue_index.bump(db.session.connection())
        db.session.commit()
    db.session.expire_all()
    with counting() as statements:
        response = client.get(url)
        body = response.get_data()  # the statements of a streamed file run while it is sent
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    assert body
    return statements


@pytest.fixture(scope="module")
def export_statements(app):
    from sqlalchemy import func, select

    from portal.accounts.models import Role
    from portal.agreements.models import AgreementParty
    from portal.demo import seed
    from portal.partners.models import Organization
    from tests import factories
    from tests.conftest import _empty_tables, login

    clients = {None: app.test_client(), "partner": app.test_client(), "staff": app.test_client()}
    app.config["RATELIMIT_ENABLED"] = False
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(seed, "GENERATED_AGREEMENTS", seed.GENERATED_AGREEMENTS)
        try:
            _load_demo_catalogue(SMALL)
            # A member of the organisation with the most agreements.
            busiest = db.session.scalar(
                select(AgreementParty.organization_id)
                .group_by(AgreementParty.organization_id)
                .order_by(func.count().desc(), AgreementParty.organization_id)
                .limit(1)
            )
            factories.make_user(Role.STAFF, email="staff-exports@example.org")
            factories.make_user(
                Role.PARTNER,
                email="member-exports@example.org",
                organization=db.session.get(Organization, busiest),
            )
            db.session.commit()
            assert login(clients["staff"], "staff-exports@example.org").status_code == 302
            assert login(clients["partner"], "member-exports@example.org").status_code == 302

            def measure_all():
                out = {}
                for name, (url, reader) in EXPORTS.items():
                    built = _measure(clients[reader], url, fresh=True)
                    cached = _measure(clients[reader], url, fresh=False)
                    out[name] = (built, cached)
                return out

            small = measure_all()
            _load_demo_catalogue(LARGE)
            large = measure_all()
        finally:
            app.config["RATELIMIT_ENABLED"] = True
            db.session.rollback()
            db.session.remove()
            _empty_tables()
    return small, large


@pytest.mark.parametrize("name", list(EXPORTS))
def test_export_statements_are_the_same_at_1k_and_10k_agreements(export_statements, name):
    small, large = export_statements
    url = EXPORTS[name][0]
    for which, index, budget in (("built", 0, BUDGET_BUILT), ("cached", 1, BUDGET_CACHED)):
        few, many = small[name][index], large[name][index]
        assert len(many) == len(few), (
            f"{url} ({which}): {len(few)} statements at {SMALL:,} agreements, {len(many)} at "
            f"{LARGE:,}: {[s[:120] for s in many]}"
        )
        assert len(many) <= budget, f"{url} ({which}): {len(many)} statements: {many}"
    assert len(large[name][1]) < len(large[name][0])  # the cached copy reads no rows
