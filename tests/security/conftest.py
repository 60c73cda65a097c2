"""A small world for the security suite and the CSP crawl (tests/e2e): one user per role,
an organisation with public and partner-only agreements, an open review round with a
commented paragraph, an advisory group with a meeting, and an API token for the partner."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portal.accounts.models import ApiToken
from portal.extensions import db
from tests import factories
from tests.consultations import add_member, make_group, make_meeting

PARTNER_TOKEN = "psp_security-suite-token"  # noqa: S105 - test data


@dataclass
class World:
    admin: object
    staff: object
    partner: object
    org: object
    agreement: object
    private_agreement: object
    version: object
    review_round: object
    group: object
    meeting: object
    token_headers: dict


@pytest.fixture
def world() -> World:
    return build_world()


def build_world() -> World:
    org = factories.make_org("Habitat Alliance Kenya")
    admin = factories.make_user("admin", email="admin@example.org", name="Ada Admin")
    staff = factories.make_user("staff", email="staff@example.org", name="Sam Staff")
    partner = factories.make_user(
        "partner", organization=org, email="partner@example.org", name="Pat Partner"
    )
    agreement = factories.make_agreement("Slum upgrading", parties=[org])
    private_agreement = factories.make_agreement(
        "Internal agreement", parties=[org], visibility="internal"
    )
    version = factories.make_review_version(["First paragraph.", "Second paragraph."])
    review_round = factories.make_review_round(version, invited=[partner])
    group = make_group()
    add_member(group, partner)
    meeting = make_meeting(group)
    factories.make_review_comment(review_round, partner, version.paragraphs[0])
    db.session.add(
        ApiToken(user_id=partner.id, name="tool", token_hash=ApiToken.hash(PARTNER_TOKEN))
    )
    db.session.commit()
    return World(
        admin=admin,
        staff=staff,
        partner=partner,
        org=org,
        agreement=agreement,
        private_agreement=private_agreement,
        version=version,
        review_round=review_round,
        group=group,
        meeting=meeting,
        token_headers={"Authorization": f"Bearer {PARTNER_TOKEN}"},
    )
