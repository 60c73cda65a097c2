"""A small catalogue with one record of each visibility, and API tokens for each audience."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

import pytest

from portal.accounts.models import ApiToken, Role
from portal.extensions import db


def token_headers(user) -> dict[str, str]:
    raw = secrets.token_urlsafe(24)
    db.session.add(ApiToken(user_id=user.id, name="tool", token_hash=ApiToken.hash(raw)))
    db.session.flush()
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def catalogue(factories):
    mine = factories.make_org(
        "Kounkuey Design Initiative", acronym="KDI", country="KE", regions=("014",), org_type="22"
    )
    other = factories.make_org(
        "Slum Dwellers International",
        country="ZA",
        regions=("018",),
        org_type="21",
        partner_since=date(2012, 1, 1),
    )
    hidden = factories.make_org("Quiet Donor Foundation", country="CH", is_public=False)
    public = factories.make_agreement(
        "Nairobi river public space",
        parties=[(mine, "implementing"), (hidden, "funding")],
        countries=("KE",),
        regions=("014",),
        signed_on=date(2024, 3, 1),
        amount=Decimal("250000.00"),
    )
    factories.make_document(public, filename="signed.pdf", title="Signed agreement")
    ours = factories.make_agreement(
        "Kibera pilot shared with partners",
        parties=[mine],
        visibility="partners",
        countries=("KE",),
        signed_on=date(2023, 6, 1),
    )
    theirs = factories.make_agreement(
        "Cape Town finance shared with partners",
        parties=[other],
        visibility="partners",
        countries=("ZA",),
        regions=("018",),
        signed_on=date(2025, 1, 15),
    )
    internal = factories.make_agreement(
        "Internal review of the Lyon hub",
        parties=[other],
        visibility="internal",
        countries=("FR",),
        regions=("155",),
        status="draft",
        agreement_type="mou",
        signed_on=date(2022, 1, 10),
    )
    partner = factories.make_user(Role.PARTNER, organization=mine, email="partner@example.org")
    staff = factories.make_user(Role.STAFF, email="staff@example.org")
    headers = {"partner": token_headers(partner), "staff": token_headers(staff), "public": {}}
    db.session.commit()
    return {
        "mine": mine,
        "other": other,
        "hidden": hidden,
        "public": public,
        "ours": ours,
        "theirs": theirs,
        "internal": internal,
        "partner": partner,
        "staff": staff,
        "headers": headers,
    }
