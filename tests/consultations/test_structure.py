"""Issue 9 in consultations: a GET writes nothing (the personal feed link is shown without being
stored), "staff" means an *active* staff account everywhere, files on disk follow the
transaction, and the package keeps its structure (no commits in views or services, no role
checks outside the permission modules, no import cycles)."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.agreements import documents
from portal.consultations import services
from portal.consultations.models import (
    AdvisoryGroup,
    AgendaItem,
    ConsultationPreference,
    Meeting,
)
from portal.consultations.permissions import visible_groups_filter, visible_meetings_filter
from portal.core.guard import can
from portal.core.services import PermissionDenied
from portal.extensions import db
from tests.conftest import login
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "portal" / "consultations"
FEED_LINK = re.compile(r'value="https?://[^"]*(/consultations/feed/[^"]+\.ics)"')


def _feed_path(client) -> str:
    page = client.get("/consultations/")
    assert page.status_code == 200
    match = FEED_LINK.search(page.get_data(as_text=True))
    assert match, "the page shows the personal feed link"
    return match.group(1)


def _preferences() -> int:
    return db.session.scalar(select(func.count()).select_from(ConsultationPreference))


# --------------------------------------------------------------------------- feed link


def test_the_feed_link_is_shown_without_storing_anything_and_works(client, app):
    member = make_user(email="member@example.org")
    group = make_group()
    add_member(group, member)
    invite_user(make_meeting(group, title="Habitat assembly briefing"), member)
    db.session.commit()
    login(client, member.email)

    path = _feed_path(client)  # under TESTING a GET that writes would raise
    assert _preferences() == 0
    assert _feed_path(client) == path  # the same link on every visit

    calendar = app.test_client().get(path)  # calendar apps have no session
    assert calendar.status_code == 200
    assert b"Habitat assembly briefing" in calendar.data


def test_choosing_a_time_zone_keeps_the_link_and_reset_replaces_it(client, app):
    member = make_user(email="member@example.org")
    db.session.commit()
    login(client, member.email)
    path = _feed_path(client)

    resp = client.post("/consultations/preferences/timezone", data={"timezone": "Asia/Tokyo"})
    assert resp.status_code == 303
    assert _preferences() == 1
    assert _feed_path(client) == path  # storing the time zone did not change the link
    assert app.test_client().get(path).status_code == 200

    assert client.post("/consultations/feed/reset").status_code == 303
    new_path = _feed_path(client)
    assert new_path != path
    assert app.test_client().get(path).status_code == 404
    assert app.test_client().get(new_path).status_code == 200


def test_a_link_signed_with_a_stored_key_keeps_working(client, app):
    """Links handed out before keys were derived carry the random key stored then."""
    member = make_user(email="member@example.org")
    db.session.add(ConsultationPreference(user_id=member.id, feed_key="0123456789abcdef" * 2))
    db.session.commit()
    with app.test_request_context():
        token = services.feed_token(member)
    assert app.test_client().get(f"/consultations/feed/{token}.ics").status_code == 200
    login(client, member.email)
    assert _feed_path(client) == f"/consultations/feed/{token}.ics"


def test_a_deactivated_users_feed_stops(client, app):
    member = make_user(email="member@example.org")
    db.session.commit()
    login(client, member.email)
    path = _feed_path(client)
    member.active = False
    db.session.commit()
    assert app.test_client().get(path).status_code == 404


# --------------------------------------------------------------------------- active staff only


@pytest.fixture
def private_group():
    group = make_group("Donor round-table", is_public=False)
    make_meeting(group, title="Pledging round", status="draft")
    db.session.commit()
    return group


def test_deactivated_staff_have_no_staff_rights(app, private_group):
    former = make_user(Role.STAFF, email="former.staff@example.org", active=False)
    staff = make_user(Role.STAFF, email="staff@example.org")
    db.session.commit()
    with app.test_request_context():
        for name in ("manage_meetings", "manage_advisory_groups", "view_consultations_dashboard"):
            assert can(name, user=staff)
            assert not can(name, user=former)
        assert can("view_meeting", private_group.meetings[0], user=staff)
        assert not can("view_meeting", private_group.meetings[0], user=former)
        with pytest.raises(PermissionDenied):
            services.create_group(former, services.GroupData("Another group"))
    visible = db.session.scalars(select(AdvisoryGroup).where(visible_groups_filter(former)))
    assert private_group not in list(visible)
    meetings = db.session.scalars(select(Meeting).where(visible_meetings_filter(former))).all()
    assert meetings == []
    assert db.session.scalar(select(func.count()).select_from(AdvisoryGroup)) == 1


def test_staff_deactivated_while_signed_in_lose_the_staff_pages(client, private_group):
    staff = make_user(Role.STAFF, email="staff@example.org")
    db.session.commit()
    login(client, staff.email)
    assert client.get("/consultations/groups/new").status_code == 200
    assert client.get("/consultations/dashboard").status_code == 200
    staff.active = False
    db.session.commit()
    for url in ("/consultations/groups/new", "/consultations/dashboard"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]
    resp = client.post("/consultations/groups/new", data={"name": "Late group"})
    assert resp.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(AdvisoryGroup)) == 1


def test_signed_in_non_staff_get_403_on_staff_pages(client, private_group):
    partner = make_user(email="partner@example.org")
    db.session.commit()
    login(client, partner.email)
    for url in (
        "/consultations/groups/new",
        "/consultations/meetings/new",
        "/consultations/dashboard",
        f"/consultations/groups/{private_group.id}/edit",
    ):
        assert client.get(url).status_code == 403, url


# --------------------------------------------------------------------------- files and commits


def _stored_files(app) -> set[str]:
    return {p.name for p in Path(app.config["UPLOAD_DIR"]).iterdir() if p.is_file()}


def test_an_uploaded_file_stays_only_if_its_row_is_committed(app):
    staff = make_user(Role.STAFF, email="staff@example.org")
    item = AgendaItem(meeting=make_meeting(make_group()), title="Budget", position=1)
    db.session.add(item)
    db.session.commit()
    before = _stored_files(app)
    with app.test_request_context(method="POST"):
        doc = services.attach_agenda_document(
            staff, item, "Budget", io.BytesIO(b"%PDF-1.4 budget"), "budget.pdf"
        )
        name = doc.stored_name
        assert name in _stored_files(app)
        db.session.rollback()  # the request failed after the upload
    assert _stored_files(app) == before

    with app.test_request_context(method="POST"):
        doc = services.attach_agenda_document(
            staff, item, "Budget", io.BytesIO(b"%PDF-1.4 budget"), "budget.pdf"
        )
        name = doc.stored_name
        db.session.commit()
    assert name in _stored_files(app)
    documents.remove_stored(name)


def test_removing_an_item_deletes_its_files_once_committed(client, app):
    staff = make_user(Role.STAFF, email="staff@example.org")
    meeting = make_meeting(make_group())
    item = AgendaItem(meeting=meeting, title="Budget", position=1)
    db.session.add(item)
    db.session.commit()
    login(client, staff.email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/agenda/{item.id}/documents",
        data={"title": "Budget", "file": (io.BytesIO(b"%PDF-1.4 budget"), "budget.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    [name] = [d.stored_name for d in db.session.get(AgendaItem, item.id).documents]
    assert name in _stored_files(app)

    with app.test_request_context(method="POST"):
        services.remove_agenda_item(staff, db.session.get(AgendaItem, item.id))
        assert name in _stored_files(app)
        db.session.rollback()  # not deleted after all: the file stays
    assert name in _stored_files(app)

    resp = client.post(f"/consultations/meetings/{meeting.id}/agenda/{item.id}/delete")
    assert resp.status_code == 303
    assert name not in _stored_files(app)
    assert db.session.get(AgendaItem, item.id) is None


# --------------------------------------------------------------------------- structure


def _python_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_commit_or_rollback_anywhere_in_the_package():
    """The request, ``committing()`` (CLI) and the job queue (worker) own the transaction."""
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _python_files()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"commit", "rollback"}
    ]
    assert offenders == []


def _account_role_check(node: ast.AST) -> bool:
    """``x.is_staff``/``x.is_admin`` on anything, or an *account's* role (``user.role``,
    ``User.role``); a member's role in a group (chair, secretariat) is consultations data."""
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr in {"is_staff", "is_admin"}:
        return True
    accounts = {"User", "user", "current_user", "actor", "viewer"}
    return node.attr == "role" and isinstance(node.value, ast.Name) and node.value.id in accounts


def test_no_account_role_checks_outside_the_permission_modules():
    rules = {"permissions.py", "records_permissions.py"}
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _python_files()
        if path.name not in rules
        for node in ast.walk(ast.parse(path.read_text()))
        if _account_role_check(node)
    ]
    assert offenders == []
    for template in (ROOT / "templates" / "consultations").glob("*.html"):
        text = template.read_text()
        assert "is_staff" not in text and "current_user.role" not in text, template.name


def _imports(path: Path) -> set[str]:
    """Every portal.consultations module this file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if _module_path(n) is not None)
    return found


def _module_path(name: str) -> Path | None:
    if not name.startswith("portal.consultations"):
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycles_inside_consultations():
    graph = {_module_name(p): _imports(p) - {_module_name(p)} for p in _python_files()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*trail, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
        return None

    cycles = [c for c in (cycle_from(m) for m in graph) if c]
    assert cycles == []
    assert "portal.consultations.services" not in graph["portal.consultations.ics"]
