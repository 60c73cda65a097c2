"""Input a person might paste or a bot might send never produces a 500 — on SQLite or
PostgreSQL (which refuses NUL characters in text outright)."""

from __future__ import annotations

import pytest

from portal.extensions import db
from tests.conftest import login


@pytest.mark.parametrize(
    "path",
    [
        "/agreements/?q=water%00pipe",
        "/partners/?q=%00",
        "/search/?q=%22%00*(NEAR",
        "/api/v1/search?q=%00%00",
        "/agreements/?year=%00&page=%00",
    ],
)
def test_nul_characters_in_query_arguments_are_harmless(client, path):
    resp = client.get(path)
    assert resp.status_code < 500


def test_nul_characters_in_forms_are_dropped_not_stored(client, factories):
    staff = factories.make_user("staff", email="staff@example.org")
    org = factories.make_org("Habitat Partners")
    db.session.commit()
    assert (
        client.post(
            "/account/login", data={"email": "x\x00@example.org", "password": "p\x00"}
        ).status_code
        < 500
    )
    login(client, staff.email)
    resp = client.post(
        f"/partners/{org.id}/edit",
        data={
            "name": "Habitat\x00 Partners",
            "org_type": "22",
            "country": "KE",
            "regions": ["014"],
            "description": "Pasted\x00 text",
            "is_public": "y",
        },
    )
    assert resp.status_code < 500
    db.session.refresh(org)
    assert "\x00" not in org.name and "\x00" not in (org.description or "")


HUGE = "9" * 12  # past PostgreSQL's INTEGER
HUGER = "9" * 30  # past BIGINT too


@pytest.mark.parametrize(
    "path",
    [
        f"/agreements/{HUGE}",
        f"/partners/{HUGE}",
        f"/consultations/meetings/{HUGE}",
        f"/api/v1/reviews/rounds/{HUGE}",
        f"/api/v1/reviews/rounds/{HUGE}/comments",
    ],
)
def test_ids_past_the_database_range_are_not_found(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/partners/?page={HUGER}",
        f"/agreements/?page={HUGER}&per_page={HUGER}",
        f"/search/?q=water&page={HUGER}",
        f"/api/v1/search?q=water&page={HUGER}",
        f"/staff/audit?object_id={HUGE}",
        f"/staff/audit?object_id={HUGER}",
    ],
)
def test_huge_numbers_in_query_arguments_are_never_a_500(client, factories, path):
    factories.make_user("staff", email="staff@example.org")
    db.session.commit()
    login(client, "staff@example.org")
    assert client.get(path).status_code < 500
