"""Accounts: login, logout, throttling, password reset, profile, API tokens, user management."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import ApiToken, LoginFailure, User
from portal.core.audit import AuditLog
from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from tests.conftest import TEST_PASSWORD, login

# Registers the `smtp_server` fixture (a real aiosmtpd server).
pytest_plugins = ["tests.smtp"]

NEW_PASSWORD = "a brand new password 42"  # noqa: S105 - test data


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _link_in(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+/account/(?:reset|welcome)/\S+", text)
    assert match, text
    return match.group(0)


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


# --- Login -------------------------------------------------------------------------------------


def test_login_with_correct_password_logs_in_and_records_time(client, factories):
    user = factories.make_user("staff", name="Amina Staff")
    db.session.commit()
    resp = login(client, user.email.upper())  # e-mail is case-insensitive
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    page = client.get("/account/")
    assert page.status_code == 200
    assert "Amina Staff" in _text(page)
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None


def test_login_form_has_the_expected_fields(client):
    html = _text(client.get("/account/login"))
    assert 'name="email"' in html and 'name="password"' in html and 'name="remember"' in html


@pytest.mark.parametrize("email", ["known", "unknown@example.org"])
def test_wrong_password_or_unknown_email_get_the_same_generic_error(client, factories, email):
    user = factories.make_user()
    db.session.commit()
    resp = login(client, user.email if email == "known" else email, "wrong password")
    assert resp.status_code == 200
    assert "Invalid e-mail or password" in _text(resp)
    assert client.get("/account/").status_code == 302  # still anonymous


def test_deactivated_user_is_refused_with_the_same_message(client, factories):
    user = factories.make_user(active=False)
    db.session.commit()
    resp = login(client, user.email)
    assert resp.status_code == 200
    assert "Invalid e-mail or password" in _text(resp)
    assert client.get("/account/").status_code == 302


def test_login_follows_a_relative_next(client, factories):
    user = factories.make_user()
    db.session.commit()
    resp = client.post(
        "/account/login",
        data={"email": user.email, "password": TEST_PASSWORD, "next": "/agreements/?status=active"},
    )
    assert resp.headers["Location"] == "/agreements/?status=active"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)", "evil"],
)
def test_login_refuses_an_offsite_next(client, factories, target):
    user = factories.make_user()
    db.session.commit()
    resp = client.post(
        "/account/login", data={"email": user.email, "password": TEST_PASSWORD, "next": target}
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


def test_login_page_does_not_echo_an_offsite_next(client):
    html = _text(client.get("/account/login?next=https://evil.example/"))
    hidden = re.search(r'<input[^>]*name="next"[^>]*>', html).group(0)
    assert "evil.example" not in hidden
    html = _text(client.get("/account/login?next=/partners/"))
    assert 'value="/partners/"' in re.search(r'<input[^>]*name="next"[^>]*>', html).group(0)


def test_login_starts_a_fresh_session(client, factories):
    user = factories.make_user()
    db.session.commit()
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["lang"] = "fr"
    login(client, user.email)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["lang"] == "fr"  # the language choice is kept
        # "<user id>:<server-side session key>" (issue 15: sessions end on logout)
        assert sess["_user_id"].split(":")[0] == str(user.id)


def test_ip_rate_limit_answers_429_with_the_styled_error_page(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    for n in range(3):
        assert login(client, f"nobody{n}@example.org", "x").status_code == 200
    resp = login(client, "nobody9@example.org", "x")
    assert resp.status_code == 429
    html = _text(resp)
    assert "Too many attempts" in html
    assert 'class="site-header"' in html  # the portal's page, not a bare error
    # Only POST is limited: the form itself still opens.
    assert client.get("/account/login").status_code == 200


def test_account_is_locked_after_repeated_failures_even_from_many_addresses(
    client, app, factories, monkeypatch
):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_MAX_FAILURES", 4)
    victim = factories.make_user(email="victim@example.org")
    other = factories.make_user(email="other@example.org")
    db.session.commit()
    for n in range(4):
        client.post(
            "/account/login",
            data={"email": victim.email, "password": f"guess {n}"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"},
        )
    # Even the right password is refused while the address is locked.
    resp = login(client, victim.email)
    assert resp.status_code == 429
    assert "Too many failed attempts for this account" in _text(resp)
    assert client.get("/account/").status_code == 302
    # Other accounts are unaffected.
    assert login(client, other.email).status_code == 302
    client.post("/account/logout")
    # Once the failures are older than the window, the account opens again.
    db.session.execute(
        LoginFailure.__table__.update().values(created_at=utcnow() - timedelta(minutes=16))
    )
    db.session.commit()
    assert login(client, victim.email).status_code == 302
    assert db.session.scalar(select(func.count(LoginFailure.id))) == 0


# --- Logout and remember-me --------------------------------------------------------------------


def test_logout_requires_post(client, factories):
    user = factories.make_user()
    db.session.commit()
    login(client, user.email)
    assert client.get("/account/logout").status_code == 405
    assert client.get("/account/").status_code == 200  # still logged in
    resp = client.post("/account/logout")
    assert resp.status_code == 302
    assert client.get("/account/").status_code == 302


def test_remember_cookie_is_set_and_cleared_on_logout(client, factories):
    user = factories.make_user()
    db.session.commit()
    client.post(
        "/account/login", data={"email": user.email, "password": TEST_PASSWORD, "remember": "y"}
    )
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only
    # A new browser session (session cookie gone) is still logged in thanks to the cookie.
    client.delete_cookie("session")
    assert client.get("/account/").status_code == 200
    client.post("/account/logout")
    assert client.get_cookie("remember_token") is None
    client.delete_cookie("session")
    assert client.get("/account/").status_code == 302


def test_without_remember_no_remember_cookie(client, factories):
    user = factories.make_user()
    db.session.commit()
    login(client, user.email)
    assert client.get_cookie("remember_token") is None


# --- Password reset ----------------------------------------------------------------------------


def test_password_reset_full_flow_with_real_mail(client, factories, smtp_server):
    user = factories.make_user(name="Li Wei", email="li.wei@example.org")
    db.session.commit()
    resp = client.post(
        "/account/reset", data={"email": "Li.Wei@example.org"}, follow_redirects=True
    )
    assert resp.status_code == 200
    assert "If an account exists for that address" in _text(resp)

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "li.wei@example.org"
    assert "Reset your Partnership Portal password" in message["Subject"]
    assert message["Message-ID"] and message["Date"]
    assert "no-reply@portal.localhost" in message["From"]
    link = _link_in(message)
    assert link.startswith("http://127.0.0.1:5000/account/reset/")  # built from BASE_URL
    assert link in smtp_server.html(message)

    form = client.get(_path(link), follow_redirects=True)
    assert form.status_code == 200
    assert "li.wei@example.org" in _text(form)
    short = client.post(_path(link), data={"password": "short", "confirm": "short"})
    assert "at least 12 characters" in _text(short)
    differ = client.post(
        _path(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"}
    )
    assert "The two passwords differ" in _text(differ)
    done = client.post(_path(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert login(client, user.email, TEST_PASSWORD).status_code == 200  # old one is gone
    assert login(client, user.email, NEW_PASSWORD).status_code == 302
    client.post("/account/logout")

    # The link works once.
    again = client.get(_path(link))
    assert again.status_code == 400
    assert "already been used" in _text(again)
    reuse = client.post(
        _path(link), data={"password": "yet another password", "confirm": "yet another password"}
    )
    assert reuse.status_code == 400
    assert login(client, user.email, NEW_PASSWORD).status_code == 302


def test_reset_for_unknown_address_gives_the_same_answer_and_sends_nothing(client, factories):
    factories.make_user(email="someone@example.org")
    db.session.commit()
    resp = client.post(
        "/account/reset", data={"email": "nobody@example.org"}, follow_redirects=True
    )
    assert "If an account exists for that address" in _text(resp)
    assert db.session.scalar(select(func.count(OutgoingMail.id))) == 0


def test_expired_reset_link_is_refused(client, factories, monkeypatch):
    from itsdangerous import TimestampSigner

    from portal.accounts.services import make_password_token

    user = factories.make_user()
    db.session.commit()
    # Sign the link two hours ago (the default max age is one hour).
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 7200)
    token = make_password_token(user)
    monkeypatch.undo()
    resp = client.get(f"/account/reset/{token}")
    assert resp.status_code == 400
    assert "This link has expired" in _text(resp)
    post = client.post(
        f"/account/reset/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert post.status_code == 400
    assert login(client, user.email, NEW_PASSWORD).status_code == 200  # not changed


def test_tampered_reset_link_is_refused(client, factories):
    from portal.accounts.services import make_password_token

    user = factories.make_user()
    db.session.commit()
    token = make_password_token(user)
    resp = client.get(f"/account/reset/{token[:-3]}abc")
    assert resp.status_code == 400
    assert "This link is not valid" in _text(resp)


def test_reset_requests_are_rate_limited_per_ip(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_RATE_LIMIT", "2 per minute")
    for n in range(2):
        assert client.post("/account/reset", data={"email": f"a{n}@example.org"}).status_code == 302
    resp = client.post("/account/reset", data={"email": "a9@example.org"})
    assert resp.status_code == 429
    assert "Too many attempts" in _text(resp)
    assert client.get("/account/reset").status_code == 200


def test_reset_mails_per_address_are_capped(client, factories):
    user = factories.make_user()
    db.session.commit()
    for _ in range(5):
        client.post("/account/reset", data={"email": user.email})
    assert (
        db.session.scalar(
            select(func.count(OutgoingMail.id)).where(OutgoingMail.to_address == user.email)
        )
        == 3
    )


# --- Profile and API tokens --------------------------------------------------------------------


def test_profile_shows_account_details(client, factories):
    org = factories.make_org("Slum Dwellers International")
    user = factories.make_user("partner", organization=org, name="Joseph Muturi")
    db.session.commit()
    login(client, user.email)
    html = _text(client.get("/account/"))
    assert "Joseph Muturi" in html and user.email in html
    assert "Partner" in html and "Slum Dwellers International" in html


def test_profile_requires_login(client):
    resp = client.get("/account/")
    assert resp.status_code == 302
    assert "/account/login" in resp.headers["Location"]


def test_change_password_needs_the_current_one(client, factories):
    user = factories.make_user()
    db.session.commit()
    login(client, user.email)
    bad = client.post(
        "/account/password",
        data={"current_password": "not it", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert bad.status_code == 400
    assert "The current password is not correct" in _text(bad)
    ok = client.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert ok.status_code == 302
    client.post("/account/logout")
    assert login(client, user.email, NEW_PASSWORD).status_code == 302


def test_choose_language(client, factories):
    user = factories.make_user()
    db.session.commit()
    login(client, user.email)
    assert client.post("/account/language", data={"locale": "fr"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "fr"
    bad = client.post("/account/language", data={"locale": "xx"})
    assert bad.status_code == 400


def test_api_token_is_shown_once_and_can_be_revoked(client, factories):
    user = factories.make_user()
    db.session.commit()
    login(client, user.email)
    resp = client.post("/account/tokens", data={"name": "reporting sheet"})
    assert resp.status_code == 201
    raw = re.search(r'class="token-value">([^<]+)<', _text(resp)).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.name == "reporting sheet"
    assert token.token_hash == ApiToken.hash(raw) and raw not in token.token_hash
    listing = _text(client.get("/account/"))
    assert "reporting sheet" in listing and raw not in listing

    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert "Revoked" in _text(client.get("/account/"))


def test_cannot_revoke_someone_elses_token(client, factories):
    owner = factories.make_user()
    other = factories.make_user()
    token = ApiToken(user_id=owner.id, name="owner's", token_hash=ApiToken.hash("secret"))
    db.session.add(token)
    db.session.commit()
    login(client, other.email)
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None


# --- User management ---------------------------------------------------------------------------


def test_staff_creates_a_partner_user_who_gets_an_invitation(client, factories, smtp_server):
    org = factories.make_org("Habitat for Humanity")
    staff = factories.make_user("staff")
    db.session.commit()
    login(client, staff.email)
    resp = client.post(
        "/account/users/new",
        data={
            "name": "Fatima Zahra",
            "email": "Fatima@Example.org",
            "role": "partner",
            "organization_id": str(org.id),
        },
    )
    resp.close()  # as the WSGI server does after sending it: this sends the queued mail
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "fatima@example.org"))
    assert user.role == "partner" and user.organization_id == org.id and user.password_hash is None
    audit = db.session.scalar(
        select(AuditLog).where(AuditLog.object_type == "user", AuditLog.action == "create")
    )
    assert audit.actor_id == staff.id and audit.object_id == user.id

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "fatima@example.org"
    assert "Habitat for Humanity" in smtp_server.text(message)
    link = _link_in(message)
    client.post("/account/logout")
    assert client.get(_path(link), follow_redirects=True).status_code == 200
    done = client.post(_path(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert login(client, "fatima@example.org", NEW_PASSWORD).status_code == 302
    client.post("/account/logout")
    assert "already been used" in _text(client.get(_path(link)))


def test_partner_user_without_organisation_is_rejected_next_to_the_field(client, factories):
    staff = factories.make_user("staff")
    db.session.commit()
    login(client, staff.email)
    resp = client.post(
        "/account/users/new",
        data={
            "name": "No Org",
            "email": "noorg@example.org",
            "role": "partner",
            "organization_id": "",
        },
    )
    assert resp.status_code == 400
    error = re.search(r'<ul class="errors" id="organization_id-err">(.*?)</ul>', _text(resp), re.S)
    assert error and "must belong to an organisation" in error.group(1)
    assert db.session.scalar(select(User).where(User.email == "noorg@example.org")) is None


def test_non_admin_staff_cannot_create_an_admin(client, factories):
    staff = factories.make_user("staff")
    db.session.commit()
    login(client, staff.email)
    form = _text(client.get("/account/users/new"))
    assert 'value="admin"' not in form and 'value="staff"' not in form
    resp = client.post(
        "/account/users/new",
        data={
            "name": "Sneaky",
            "email": "sneaky@example.org",
            "role": "admin",
            "organization_id": "",
        },
    )
    assert resp.status_code == 400
    assert db.session.scalar(select(User).where(User.email == "sneaky@example.org")) is None


def test_admin_can_create_staff(client, factories):
    admin = factories.make_user("admin")
    db.session.commit()
    login(client, admin.email)
    resp = client.post(
        "/account/users/new",
        data={
            "name": "New Staff",
            "email": "newstaff@example.org",
            "role": "staff",
            "organization_id": "",
        },
    )
    assert resp.status_code == 302
    assert (
        db.session.scalar(select(User.role).where(User.email == "newstaff@example.org")) == "staff"
    )


def test_duplicate_email_is_rejected(client, factories):
    org = factories.make_org()
    staff = factories.make_user("staff")
    existing = factories.make_user("partner", organization=org)
    db.session.commit()
    login(client, staff.email)
    resp = client.post(
        "/account/users/new",
        data={
            "name": "Twin",
            "email": existing.email,
            "role": "partner",
            "organization_id": str(org.id),
        },
    )
    assert resp.status_code == 400
    assert "already exists" in _text(resp)


def test_partner_and_anonymous_cannot_see_users(client, factories):
    org = factories.make_org()
    partner = factories.make_user("partner", organization=org)
    db.session.commit()
    assert client.get("/account/users").status_code == 302  # to the login page
    login(client, partner.email)
    resp = client.get("/account/users")
    assert resp.status_code == 403
    assert "You do not have permission" in _text(resp)
    assert client.post("/account/users/new", data={"name": "x"}).status_code == 403


def _table(resp) -> str:
    match = re.search(r"<tbody>(.*?)</tbody>", _text(resp), re.S)
    return match.group(1) if match else ""


def test_user_list_filters_and_paginates(client, factories):
    org = factories.make_org("Filter Org")
    staff = factories.make_user("staff", name="Staff Person")
    for n in range(3):
        factories.make_user("partner", organization=org, name=f"Partner {n}")
    factories.make_user("reviewer", name="Rita Reviewer", active=False)
    db.session.commit()
    login(client, staff.email)
    partners = _table(client.get("/account/users?role=partner"))
    assert (
        "Partner 0" in partners
        and "Rita Reviewer" not in partners
        and "Staff Person" not in partners
    )
    inactive = _table(client.get("/account/users?active=no"))
    assert "Rita Reviewer" in inactive and "Partner 0" not in inactive
    by_org = _table(client.get(f"/account/users?organization={org.id}"))
    assert "Partner 2" in by_org and "Staff Person" not in by_org
    page1 = _text(client.get("/account/users?per_page=2"))
    assert "Page 1 of 3" in page1
    page3 = _table(client.get("/account/users?per_page=2&page=3"))
    assert "Staff Person" in page3  # sorted by name: Partner 0-2, Rita, Staff


def test_staff_edits_role_and_organisation_with_audit(client, factories):
    org_a = factories.make_org("Org A")
    org_b = factories.make_org("Org B")
    staff = factories.make_user("staff")
    partner = factories.make_user("partner", organization=org_a)
    admin = factories.make_user("admin")
    db.session.commit()
    login(client, staff.email)
    resp = client.post(
        f"/account/users/{partner.id}/edit",
        data={"name": partner.name, "role": "partner", "organization_id": str(org_b.id)},
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, partner.id).organization_id == org_b.id
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "update"))
    assert audit.before == {"organization_id": org_a.id} and audit.after == {
        "organization_id": org_b.id
    }
    # Staff may not touch an admin account, nor promote anyone to staff.
    assert client.get(f"/account/users/{admin.id}/edit").status_code == 403
    promote = client.post(
        f"/account/users/{partner.id}/edit",
        data={"name": partner.name, "role": "staff", "organization_id": ""},
    )
    assert promote.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, partner.id).role == "partner"


def test_deactivate_and_reactivate_but_not_yourself(client, factories):
    org = factories.make_org()
    staff = factories.make_user("staff")
    partner = factories.make_user("partner", organization=org)
    db.session.commit()
    login(client, staff.email)
    assert client.post(f"/account/users/{partner.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, partner.id).active is False
    # The deactivated partner can no longer log in.
    other = client.application.test_client()
    assert "Invalid e-mail or password" in _text(login(other, partner.email))
    assert client.post(f"/account/users/{partner.id}/reactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, partner.id).active is True
    resp = client.post(f"/account/users/{staff.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account" in _text(resp)
    db.session.expire_all()
    assert db.session.get(User, staff.id).active is True
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    # Security events (issue 15) sit in the same log: the staff login, the refused login.
    assert actions == ["login", "deactivate", "login-failed", "reactivate"]


def test_deactivated_users_session_ends(client, factories):
    org = factories.make_org()
    partner = factories.make_user("partner", organization=org)
    db.session.commit()
    login(client, partner.email)
    assert client.get("/account/").status_code == 200
    partner.active = False
    db.session.commit()
    assert client.get("/account/").status_code == 302


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_users_create_list_deactivate(runner, factories):
    org = factories.make_org("CLI Org")
    db.session.commit()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Ops@Example.org",
            "--name",
            "Ops",
            "--role",
            "staff",
            "--password",
            "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "p@example.org",
            "--name",
            "P",
            "--role",
            "partner",
            "--organization-id",
            str(org.id),
        ]
    )
    assert result.exit_code == 0, result.output
    generated = re.search(r"Generated password: (\S+)", result.output).group(1)
    bad = runner.invoke(
        args=["users", "create", "--email", "q@example.org", "--name", "Q", "--role", "partner"]
    )
    assert bad.exit_code != 0 and "must belong to an organisation" in bad.output

    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.email == "p@example.org")).check_password(
        generated
    )
    listing = runner.invoke(args=["users", "list"])
    assert "ops@example.org\tstaff" in listing.output and "CLI Org" in listing.output
    result = runner.invoke(args=["users", "deactivate", "ops@example.org"])
    assert result.exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(User.active).where(User.email == "ops@example.org")) is False
    assert runner.invoke(args=["users", "deactivate", "ghost@example.org"]).exit_code != 0


def test_api_token_authenticates_json_requests_until_revoked(client, factories):
    """/api/v1/search filters by the viewer: an internal agreement is found only by staff."""
    staff = factories.make_user("staff")
    factories.make_agreement("Confidential Nairobi pilot", visibility="internal")
    db.session.commit()
    login(client, staff.email)
    resp = client.post("/account/tokens", data={"name": "script"})
    raw = re.search(r'class="token-value">([^<]+)<', _text(resp)).group(1)
    client.post("/account/logout")

    script = client.application.test_client()  # no session cookie: only the token
    headers = {"Authorization": f"Bearer {raw}"}

    def titles(**kw):
        data = script.get("/api/v1/search?q=Nairobi", **kw).get_json()
        return [hit["title"] for hit in data["hits"]]

    assert titles() == []
    assert titles(headers=headers) == ["Confidential Nairobi pilot"]
    # A token that is not valid is refused, never read as anonymous (docs/api.md).
    assert (
        script.get("/api/v1/search?q=Nairobi", headers={"Authorization": "Bearer no"}).status_code
        == 401
    )
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == staff.id))
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at is not None

    login(client, staff.email)
    client.post(f"/account/tokens/{token.id}/revoke")
    assert script.get("/api/v1/search?q=Nairobi", headers=headers).status_code == 401
