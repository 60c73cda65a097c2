"""The agreement form's party rows accept exactly the organisations they offer.

Their choice is checked against a set of the offered values (``OrganizationField``) instead of
wtforms building a ``Choice`` per organisation per row on every save; the answers must stay
the same: an organisation on the list is saved, an unknown or archived one is refused next to
the field and nothing changes.
"""

from __future__ import annotations

from portal.accounts.models import Role
from portal.agreements.models import Agreement
from portal.core.models import utcnow
from portal.extensions import db
from tests.conftest import login
from tests.factories import make_org, make_user
from tests.search.test_engine_outage import agreement_form


def _new_agreement(client, party) -> int:
    resp = client.post("/agreements/new", data=agreement_form(party))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


def test_party_rows_accept_offered_organisations_and_refuse_others(client):
    staff = make_user(Role.STAFF)
    first = make_org("Lusaka City Council", country="ZM", regions=("202",))
    second = make_org("Ndola Water Trust", country="ZM", regions=("202",))
    archived = make_org("Closed Cooperative", country="ZM", regions=("202",))
    archived.archived_at = utcnow()
    db.session.commit()
    assert login(client, staff.email).status_code == 302
    agreement_id = _new_agreement(client, first)

    # Another organisation from the list: saved.
    form = agreement_form(first, **{"parties-0-organization_id": str(second.id)})
    resp = client.post(f"/agreements/{agreement_id}/edit", data=form)
    assert resp.status_code == 302
    db.session.expire_all()
    parties = db.session.get(Agreement, agreement_id).parties
    assert [p.organization_id for p in parties] == [second.id]

    # An id that is no organisation, and an archived organisation: refused at the field.
    for forged in ("999999", str(archived.id), "not-a-number"):
        form = agreement_form(first, **{"parties-0-organization_id": forged})
        resp = client.post(f"/agreements/{agreement_id}/edit", data=form)
        assert resp.status_code == 400, forged  # the form again, with the error
        assert "Not a valid choice" in resp.get_data(as_text=True), forged
        db.session.expire_all()
        parties = db.session.get(Agreement, agreement_id).parties
        assert [p.organization_id for p in parties] == [second.id], forged

    # A blank spare row is still fine (the browser submits them).
    form = agreement_form(second, **{"parties-1-organization_id": "", "parties-1-role": ""})
    assert client.post(f"/agreements/{agreement_id}/edit", data=form).status_code == 302
