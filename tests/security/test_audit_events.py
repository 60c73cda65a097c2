"""Issue 15: security events — logins, failed logins, lock-outs, password changes, API tokens,
role changes, ended sessions — are in the audit log, and administrators (only) see them."""

from __future__ import annotations

import html

from sqlalchemy import select

from portal.core.audit import AuditLog
from portal.extensions import db
from tests.conftest import TEST_PASSWORD, login

NEW_PASSWORD = "violet kettle drums at noon"  # noqa: S105 - test data


def _audit_page(client, **query) -> str:
    resp = client.get("/staff/audit", query_string=query)
    assert resp.status_code == 200
    return html.unescape(resp.get_data(as_text=True))


def test_security_events_are_logged_and_shown_to_admins_only(app, client, world):
    partner = app.test_client()
    login(partner, world.partner.email, "wrong password 123")
    login(partner, "ghost.user@example.org", "whatever 12345")
    login(partner, world.partner.email)
    partner.post("/account/tokens", data={"name": "reporting sheet"})
    token_id = db.session.scalar(
        select(AuditLog.object_id).where(AuditLog.object_type == "apitoken")
    )
    partner.post(f"/account/tokens/{token_id}/revoke")
    partner.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    partner.post("/account/logout")

    login(client, world.admin.email)
    resp = client.post(
        f"/account/users/{world.staff.id}/edit",
        data={"name": world.staff.name, "role": "admin", "organization_id": ""},
    )
    assert resp.status_code == 302

    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    for expected in ("login-failed", "login", "create", "revoke", "password-change", "logout"):
        assert expected in actions, expected
    assert "role-change" in actions

    page = _audit_page(client, security="1")
    assert f"Failed login: {world.partner.email}" in page
    # An unknown address is recognisable to its owner but not written out in full.
    assert "Failed login: unknown address g…@example.org" in page
    assert "ghost.user@" not in page
    assert f"Logged in: {world.partner.email}" in page
    assert "API token “reporting sheet” created" in page
    assert "API token “reporting sheet” revoked" in page
    assert f"Password set for {world.partner.email}" in page
    assert f"User {world.staff.email}: role staff → admin" in page
    assert f"Logged out: {world.partner.email}" in page
    assert "Security events only" in page
    # Nothing about the password itself, right or wrong, is ever logged.
    assert "wrong password 123" not in page and NEW_PASSWORD not in page


def test_staff_who_are_not_admins_do_not_see_personal_security_events(
    app, client, world, factories
):
    other = factories.make_user("staff", email="other.staff@example.org")
    db.session.commit()
    login(app.test_client(), other.email, "wrong password 123")
    login(client, world.staff.email)
    page = _audit_page(client)
    assert "Failed login" not in page and "Logged in" not in page
    assert "Security events only" not in page
    # Asking for them explicitly changes nothing.
    page = _audit_page(client, action="login-failed")
    assert "Failed login" not in page
    dashboard = client.get("/staff/").get_data(as_text=True)
    assert "Failed login" not in dashboard


def test_a_lock_out_is_logged(app, client, world):
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 2
    try:
        for _ in range(3):
            login(client, world.partner.email, "wrong password 123")
    finally:
        app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 10
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["login-failed", "login-failed", "login-locked"]
