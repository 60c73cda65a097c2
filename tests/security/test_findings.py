"""Issue 15: every finding of the security audit (S1–S10), reproduced as the auditor did it,
now fails safe. Runs on SQLite and PostgreSQL like the rest of the suite."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

import portal.accounts.models as account_models
from portal import create_app
from portal.accounts.models import User, UserSession
from portal.extensions import db
from portal.imports.reading import ImportFileError, read_sheet
from tests.conftest import TEST_PASSWORD, login

EVIL_NEXT = [
    "/%09/evil.com",
    "//evil.com",
    "/\\evil.com",
    "/%5Cevil.com",
    "https://evil.com/",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%0a/evil.com",
    "javascript:alert(1)",
]


def _is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (
        not parts.scheme
        and not parts.netloc
        and location.startswith("/")
        and (not location.startswith("//"))
    )


# --- S1 and S8: /lang open redirect and the 500 on a CR in next ----------------------------


@pytest.mark.parametrize("payload", EVIL_NEXT)
def test_s1_language_switch_never_redirects_off_site(client, payload):
    resp = client.get(f"/lang/en?next={payload}")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


def test_s1_language_switch_still_returns_to_the_page(client):
    resp = client.get("/lang/fr?next=/partners/%3Fq%3Dhabitat")
    assert resp.headers["Location"] == "/partners/?q=habitat"


@pytest.mark.parametrize("payload", EVIL_NEXT)
def test_s1_login_next_is_local_only(client, world, payload):
    resp = client.post(
        f"/account/login?next={payload}",
        data={"email": world.partner.email, "password": TEST_PASSWORD, "next": payload},
    )
    assert resp.status_code == 302 and _is_local(resp.headers["Location"])


def test_query_arguments_cannot_steer_url_for_options(client, world):
    """``url_for(..., **request.args)`` would read ``_external``/``_scheme`` as options."""
    login(client, world.staff.email)
    url = f"/reviews/rounds/{world.review_round.id}/comments"
    page = client.get(url + "?_external=1&_scheme=javascript&_anchor=x&status=open")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "javascript:" not in body
    assert f'action="/reviews/rounds/{world.review_round.id}/comments/bulk?status=open"' in body


def test_oversized_upload_returns_to_its_own_form_whatever_the_query(app, client, world):
    """Over the request cap the browser goes back to the form (issue 8); the query string
    must not steer that redirect nor clash with the route's own variables."""
    login(client, world.staff.email)
    cap = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        resp = client.post(
            f"/agreements/{world.agreement.id}/documents/new"
            f"?agreement_id=999&_external=1&_scheme=javascript&tab=files",
            data={"file": (io.BytesIO(b"x" * 5000), "big.pdf")},
            content_type="multipart/form-data",
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = cap
    assert resp.status_code == 303
    assert resp.headers["Location"] == (
        f"/agreements/{world.agreement.id}/documents/new?tab=files&too_large=1"
    )


# --- S9: the time-zone form -----------------------------------------------------------------


@pytest.mark.parametrize("payload", ["//evil.com", "/\t/evil.com", "https://evil.com"])
def test_s9_timezone_form_never_redirects_off_site(client, world, payload):
    login(client, world.partner.email)
    resp = client.post(
        "/consultations/preferences/timezone", data={"timezone": "Africa/Nairobi", "next": payload}
    )
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/consultations/"


def test_s9_timezone_form_returns_to_a_local_page(client, world):
    login(client, world.partner.email)
    resp = client.post(
        "/consultations/preferences/timezone",
        data={"timezone": "Africa/Nairobi", "next": f"/consultations/meetings/{world.meeting.id}"},
    )
    assert resp.headers["Location"] == f"/consultations/meetings/{world.meeting.id}"


# --- S2: sessions end on logout, password change and deactivation ---------------------------


def _copy_cookies(source, target, names=("session", "remember_token")):
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)


def _logged_in(client) -> bool:
    return client.get("/account/").status_code == 200


def test_s2_copied_session_cookie_dies_with_logout(app, client, world):
    login(client, world.partner.email)
    thief = app.test_client()
    _copy_cookies(client, thief, ["session"])
    assert _logged_in(thief)  # the copy works while the session lives…
    client.post("/account/logout")
    assert not _logged_in(client)
    assert not _logged_in(thief)  # …and not after the owner logged out


def test_s2_remember_me_cookie_alone_dies_with_logout(app, client, world):
    client.post(
        "/account/login",
        data={"email": world.partner.email, "password": TEST_PASSWORD, "remember": "y"},
    )
    thief = app.test_client()
    _copy_cookies(client, thief, ["remember_token"])
    assert thief.get_cookie("remember_token") is not None
    assert _logged_in(thief)  # the 30-day cookie alone logs in…
    client.post("/account/logout")
    other = app.test_client()
    _copy_cookies(client, other, ["remember_token"])
    fresh_thief = app.test_client()
    fresh_thief.set_cookie("remember_token", thief.get_cookie("remember_token").value)
    fresh_thief.delete_cookie("session")
    assert not _logged_in(fresh_thief)  # …until the owner logs out


def test_s2_password_change_ends_the_other_sessions(app, client, world):
    login(client, world.partner.email)
    laptop = app.test_client()
    login(laptop, world.partner.email)
    assert _logged_in(laptop)
    resp = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "password": "violet kettle drums at noon",
            "confirm": "violet kettle drums at noon",
        },
    )
    assert resp.status_code == 302
    assert _logged_in(client)  # the browser that changed it stays in
    assert not _logged_in(laptop)


def test_s2_deactivation_ends_every_session(app, client, world):
    login(client, world.partner.email)
    admin = app.test_client()
    login(admin, world.admin.email)
    assert admin.post(f"/account/users/{world.partner.id}/deactivate").status_code == 302
    assert not _logged_in(client)


def test_s2_log_out_everywhere_else(app, client, world):
    login(client, world.partner.email)
    phone = app.test_client()
    login(phone, world.partner.email)
    page = client.get("/account/").get_data(as_text=True)
    assert "You are also logged in on 1 other browser or device." in page
    resp = client.post("/account/sessions/end-others", follow_redirects=True)
    assert "1 other session has been logged out." in resp.get_data(as_text=True)
    assert _logged_in(client) and not _logged_in(phone)


def test_s2_sessions_need_no_database_write_per_request(app, client, world):
    """The check is a read joined to the user's load: the session table does not change
    while a logged-in person browses."""
    login(client, world.partner.email)
    before = db.session.execute(select(UserSession.id, UserSession.expires_at)).all()
    for path in ("/", "/account/", "/partners/", f"/agreements/{world.agreement.id}"):
        client.get(path)
    db.session.expire_all()
    assert db.session.execute(select(UserSession.id, UserSession.expires_at)).all() == before


def test_expired_sessions_are_refused_and_pruned_by_the_worker(client, world, runner):
    from datetime import timedelta

    from portal.core.models import utcnow

    login(client, world.partner.email)
    assert _logged_in(client)
    db.session.execute(
        UserSession.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert not _logged_in(client)  # the absolute lifetime is enforced by the server
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sessions: removed 1 expired session(s)" in result.output
    assert db.session.scalar(select(func.count(UserSession.id))) == 0


def test_api_token_use_is_recorded_without_a_write_per_request(client, world):
    from portal.accounts.models import ApiToken

    url = f"/api/v1/reviews/rounds/{world.review_round.id}"
    assert client.get(url, headers=world.token_headers).status_code == 200
    db.session.expire_all()
    first = db.session.scalar(select(ApiToken.last_used_at))
    assert first is not None
    for _ in range(3):
        client.get(url, headers=world.token_headers)
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) == first


# --- S3: the same work for unknown and known addresses -------------------------------------


class _CountingHasher(account_models.PasswordHasher):
    verifications = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        type(self).verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def counting_hasher(monkeypatch):
    hasher = _CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _CountingHasher.verifications = 0
    monkeypatch.setattr(account_models, "_hasher", hasher)
    # Real users' hashes must come from the same parameters, like in production.
    return _CountingHasher


@pytest.mark.parametrize(
    "case", ["unknown address", "wrong password", "deactivated", "no password yet", "right"]
)
def test_s3_every_login_costs_exactly_one_hash_verification(
    client, world, counting_hasher, factories, case
):
    invited = factories.make_user("reviewer", email="invited@example.org")
    invited.password_hash = None
    gone = factories.make_user("reviewer", email="gone@example.org", active=False)
    db.session.commit()
    email, password = {
        "unknown address": ("nobody@example.org", "whatever it is 123"),
        "wrong password": (world.partner.email, "not the password 123"),
        "deactivated": (gone.email, TEST_PASSWORD),
        "no password yet": (invited.email, "whatever it is 123"),
        "right": (world.partner.email, TEST_PASSWORD),
    }[case]
    counting_hasher.verifications = 0
    login(client, email, password)
    assert counting_hasher.verifications == 1


# --- S4: spreadsheet imports cannot stall the server ----------------------------------------


def _xlsx_bomb(unpacked_mb: int) -> bytes:
    """A real XLSX whose one sheet is ``unpacked_mb`` MB of XML and a few hundred KB zipped."""
    row = "<row>" + '<c t="inlineStr"><is><t>aaaaaaaaaaaaaaaa</t></is></c>' * 40 + "</row>"
    chunk = (row * 50).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet><sheetData>')
            for _ in range(unpacked_mb * 1024 * 1024 // len(chunk)):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def test_s4_xlsx_bomb_is_refused_before_parsing(monkeypatch):
    bomb = _xlsx_bomb(60)
    assert len(bomb) < 1024 * 1024  # small on the wire…

    def _must_not_parse(*args, **kwargs):
        raise AssertionError("openpyxl was asked to parse the bomb")

    monkeypatch.setattr("openpyxl.load_workbook", _must_not_parse)
    with pytest.raises(ImportFileError, match="unpacks to 60 MB, more than the 20 MB allowed"):
        read_sheet(bomb, "partners.xlsx")


def test_s4_bomb_upload_gets_a_clear_message_next_to_the_field(client, world):
    login(client, world.staff.email)
    resp = client.post(
        "/staff/import/",
        data={"kind": "organizations", "file": (io.BytesIO(_xlsx_bomb(30)), "partners.xlsx")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    assert "more than the 20 MB allowed" in resp.get_data(as_text=True)


def test_s4_row_column_and_cell_limits(app):
    app.config.update(IMPORT_MAX_ROWS=3, IMPORT_MAX_COLUMNS=4, IMPORT_MAX_CELL_CHARS=10)
    try:
        ok = read_sheet(b"name,country\nA,KE\n\n\n\nB,KE\nC,KE\n", "x.csv")
        assert len(ok.rows) == 3  # blank rows do not count towards the limit
        with pytest.raises(ImportFileError, match="more than 3 rows"):
            read_sheet(b"name\nA\nB\nC\nD\n", "x.csv")
        with pytest.raises(ImportFileError, match="Row 2 has more than 4 columns"):
            read_sheet(b"a,b,c,d\n1,2,3,4,5\n", "x.csv")
        with pytest.raises(ImportFileError, match="Row 2, column 2 holds more than 10"):
            read_sheet(b"a,b\n1,12345678901\n", "x.csv")
        from openpyxl import Workbook

        workbook = Workbook()
        for _ in range(5):
            workbook.active.append(["x", "y"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        with pytest.raises(ImportFileError, match="more than 3 rows"):
            read_sheet(buffer.getvalue(), "x.xlsx")
    finally:
        app.config.update(
            IMPORT_MAX_ROWS=10_000, IMPORT_MAX_COLUMNS=100, IMPORT_MAX_CELL_CHARS=10_000
        )


# --- S5 and S6: headers on token pages and internal pages ----------------------------------


def test_s5_token_pages_send_no_referrer_and_are_not_stored(client, world):
    from portal.accounts.services import RESET_SALT, make_password_token

    token = make_password_token(world.partner, RESET_SALT)
    for path in (f"/account/reset/{token}", f"/account/welcome/{token}", "/account/reset/bad"):
        resp = client.get(path)
        assert resp.headers["Referrer-Policy"] == "no-referrer", path
        assert resp.headers["Cache-Control"] == "no-store", path


def test_s5_reset_token_leaves_the_address_bar_at_the_first_visit(client, world):
    from portal.accounts.services import INVITATION_SALT, make_password_token

    token = make_password_token(world.partner, INVITATION_SALT)
    resp = client.get(f"/account/welcome/{token}")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/account/choose-password"
    page = client.get("/account/choose-password")
    assert page.status_code == 200 and token not in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Welcome — choose your password" in page.get_data(as_text=True)
    done = client.post(
        "/account/choose-password",
        data={"password": "violet kettle drums at noon", "confirm": "violet kettle drums at noon"},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/account/login"
    assert login(client, world.partner.email, "violet kettle drums at noon").status_code == 302
    # The token was single-use and the session no longer holds it.
    assert client.get("/account/choose-password").status_code == 400


def test_s5_choose_password_without_a_link_is_refused(app):
    resp = app.test_client().get("/account/choose-password")
    assert resp.status_code == 400
    assert "This link is not valid" in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/staff/audit",
        "/staff/",
        "/agreements/{private}",
        "/reviews/rounds/{round}/comments",
        "/consultations/meetings/{meeting}",
        "/account/",
    ],
)
def test_s6_internal_pages_are_never_stored(client, world, path):
    login(client, world.staff.email)
    url = path.format(
        private=world.private_agreement.id, round=world.review_round.id, meeting=world.meeting.id
    )
    resp = client.get(url)
    assert resp.status_code == 200, url
    assert resp.headers["Cache-Control"] == "no-store"


def test_s6_public_pages_for_anonymous_visitors_stay_cacheable(client, world):
    resp = client.get(f"/agreements/{world.agreement.id}")
    assert resp.status_code == 200
    assert "no-store" not in resp.headers.get("Cache-Control", "")


# --- S7: production will not invent a secret ------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "short-secret"])
def test_s7_production_refuses_to_start_without_a_real_secret(secret, tmp_path):
    with pytest.raises(RuntimeError, match="PORTAL_SECRET_KEY"):
        create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": secret,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            }
        )


def test_s7_production_starts_with_a_long_secret_and_sends_hsts(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "k" * 64,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.test_request_context("/"):
        response = app.process_response(app.response_class("ok"))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- S8: hostile JSON is a 400, not a 500 ---------------------------------------------------


def _comments_url(world) -> str:
    return f"/api/v1/reviews/rounds/{world.review_round.id}/comments"


def test_s8_deeply_nested_json_is_a_400(client, world):
    body = "[" * 1000 + "]" * 1000
    resp = client.post(
        _comments_url(world),
        data=body,
        content_type="application/json",
        headers=world.token_headers,
    )
    assert resp.status_code == 400
    assert "nested too deeply" in resp.get_json()["error"]["message"]
    deeper = '{"body": ' + "[" * 100_000 + "]" * 100_000 + "}"
    resp = client.post(
        _comments_url(world),
        data=deeper,
        content_type="application/json",
        headers=world.token_headers,
    )
    assert resp.status_code == 400


def test_s8_lone_surrogate_is_a_400_and_saves_nothing(client, world):
    from portal.reviews.models import Comment

    before = db.session.scalar(select(func.count(Comment.id)))
    for body in ('{"body": "bad \\ud800 text"}', '{"\\udfff": "x", "body": "ok"}'):
        resp = client.post(
            _comments_url(world),
            data=body,
            content_type="application/json",
            headers=world.token_headers,
        )
        assert resp.status_code == 400
        assert "invalid character" in resp.get_json()["error"]["message"]
    assert db.session.scalar(select(func.count(Comment.id))) == before
    # A proper pair (an emoji) is fine.
    resp = client.post(
        _comments_url(world),
        data='{"body": "Good point \\ud83d\\udc4d"}',
        content_type="application/json",
        headers=world.token_headers,
    )
    assert resp.status_code == 201


@pytest.mark.parametrize("payload", ["/%0d%0aX-Injected:%201", "/%0d", "/%0a%0d"])
def test_s8_control_characters_in_next_are_not_a_500(client, payload):
    resp = client.get(f"/lang/en?next={payload}")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert "X-Injected" not in resp.headers


# --- S10: the password policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    "weak",
    ["aaaaaaaaaaaa", "password1234", "qwertyuiop123", "iloveyou2024!", "123456789012"],
)
def test_s10_common_or_trivial_passwords_are_refused(client, world, weak):
    login(client, world.partner.email)
    resp = client.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": weak, "confirm": weak},
    )
    assert resp.status_code == 400
    assert "This password is too easy to guess" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, world.partner.id).check_password(TEST_PASSWORD)


def test_s10_passwords_made_of_the_persons_own_details_are_refused(client, world):
    login(client, world.partner.email)
    mine = "partner@example.org"  # 19 characters, but it is the account's own address
    resp = client.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": mine, "confirm": mine},
    )
    assert resp.status_code == 400


def test_s10_a_passphrase_is_accepted_without_composition_rules(client, world):
    login(client, world.partner.email)
    resp = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "password": "violet kettle drums at noon",
            "confirm": "violet kettle drums at noon",
        },
    )
    assert resp.status_code == 302


def test_s10_reset_link_and_command_line_apply_the_same_policy(client, world, runner):
    from portal.accounts.services import RESET_SALT, make_password_token

    token = make_password_token(world.partner, RESET_SALT)
    resp = client.post(
        f"/account/reset/{token}", data={"password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"}
    )
    assert resp.status_code == 400
    assert "This password is too easy to guess" in resp.get_data(as_text=True)
    from portal.accounts.services import AccountError, create_user

    with pytest.raises(AccountError, match="too easy to guess"):
        create_user(
            None,
            name="Cli User",
            email="cli@example.org",
            role="staff",
            password="password1234",  # noqa: S106
        )
