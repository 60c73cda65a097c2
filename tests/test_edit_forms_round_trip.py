"""Every staff edit form round-trips unchanged data.

The test opens each edit form the way a browser does, submits exactly what the page holds
(no field touched), and finds the record identical — columns and relationships. It caught
the agreement form that pre-filled SDG targets with a Python repr and pre-selected no
country or region, so that saving it deleted the agreement's places.
"""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import inspect

from portal.accounts.models import Role, User
from portal.agreements.models import Agreement
from portal.consultations.models import AdvisoryGroup, Meeting, Outcome
from portal.extensions import db
from portal.partners.models import Organization
from tests.conftest import login
from tests.consultations import add_member, make_group, make_meeting
from tests.factories import make_agreement, make_org, make_user


class _FormParser(HTMLParser):
    """The successful controls of the form whose action is ``action`` (HTML 4.17.13.2)."""

    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.in_form = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_multiple = False
        self._select_chosen: list[str] = []
        self._select_first: str | None = None
        self._option_value: str | None = None
        self._option_text = ""
        self._option_selected = False
        self._textarea: str | None = None
        self._textarea_text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or self.action
            self.in_form = action.split("?")[0] == self.action and not self.found
            self.found = self.found or self.in_form
            return
        if not self.in_form or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self.fields.append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._select_multiple = name, "multiple" in a
            self._select_chosen, self._select_first = [], None
        elif tag == "option" and self._select:
            self._option_value = a.get("value")
            self._option_text = ""
            self._option_selected = "selected" in a
        elif tag == "textarea" and name:
            self._textarea, self._textarea_text = name, ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea_text += data
        elif self._option_value is not None or (self._select and self._option_text is not None):
            self._option_text += data

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "option" and self._select:
            value = self._option_value if self._option_value is not None else self._option_text
            if self._select_first is None:
                self._select_first = value
            if self._option_selected:
                self._select_chosen.append(value)
            self._option_value = None
        elif tag == "select" and self._select:
            chosen = self._select_chosen
            if not chosen and not self._select_multiple and self._select_first is not None:
                chosen = [self._select_first]  # a single select always submits something
            self.fields.extend((self._select, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # The HTML parser keeps the newline browsers drop after <textarea>.
            text = self._textarea_text
            for newline in ("\r\n", "\n"):
                if text.startswith(newline):
                    text = text[len(newline) :]
                    break
            self.fields.append((self._textarea, text))
            self._textarea = None


def submit_untouched(client, url: str):
    page = client.get(url)
    assert page.status_code == 200, url
    parser = _FormParser(url)
    parser.feed(page.get_data(as_text=True))
    assert parser.found, f"no form posting to {url}"
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return client.post(url, data=data, follow_redirects=False)


IGNORED = {"updated_at", "created_at", "password_hash", "last_login_at", "session_version"}


def snapshot(obj) -> dict:
    state = inspect(obj)
    out = {
        attr.key: getattr(obj, attr.key)
        for attr in state.mapper.column_attrs
        if attr.key not in IGNORED
    }
    for rel in state.mapper.relationships:
        if rel.key in {"audit_entries"} or rel.viewonly:
            continue
        value = getattr(obj, rel.key)
        if rel.uselist:
            out[rel.key] = sorted(repr(_ident(v)) for v in value)
        else:
            out[rel.key] = repr(_ident(value)) if value is not None else None
    return out


def _ident(obj):
    mapper = inspect(obj).mapper
    cols = {c.key: getattr(obj, c.key) for c in mapper.column_attrs if c.key not in IGNORED}
    cols.pop("id", None)
    return (type(obj).__name__, tuple(sorted((k, repr(v)) for k, v in cols.items())))


def assert_round_trip(client, url: str, obj) -> None:
    before = snapshot(obj)
    response = submit_untouched(client, url)
    assert response.status_code in (302, 303), (url, response.get_data(as_text=True)[:2000])
    db.session.expire_all()
    after = snapshot(db.session.get(type(obj), obj.id))
    changed = {k: (before[k], after[k]) for k in before if before[k] != after.get(k)}
    assert not changed, f"{url} changed data it was not asked to change: {changed}"


@pytest.fixture
def staff(client):
    user = make_user(Role.STAFF)
    db.session.commit()
    login(client, user.email)
    return user


def test_agreement_edit_form_round_trips(client, staff):
    org_a, org_b = make_org(), make_org(country="FR", regions=("155",))
    agreement = make_agreement(
        parties=[(org_a, "implementing"), (org_b, "funding")],
        countries=("KE", "TZ"),
        regions=("014", "002"),
        sdg_targets=("11.1", "11.3", "6.2"),
        summary="Line one.\nLine two with a <tag> & an ampersand.",
    )
    db.session.commit()
    assert_round_trip(client, f"/agreements/{agreement.id}/edit", agreement)
    saved = db.session.get(Agreement, agreement.id)
    assert sorted(c.code for c in saved.countries) == ["KE", "TZ"]
    assert sorted(t.target for t in saved.sdg_targets) == ["11.1", "11.3", "6.2"]


def test_agreement_form_prefills_codes_not_python_reprs(client, staff):
    agreement = make_agreement(sdg_targets=("11.1", "11.3"), countries=("KE",))
    db.session.commit()
    html = client.get(f"/agreements/{agreement.id}/edit").get_data(as_text=True)
    assert "AgreementSdgTarget" not in html
    assert 'value="11.1; 11.3"' in html
    assert '<option selected value="KE">' in html


def test_organisation_edit_form_round_trips(client, staff):
    org = make_org(regions=("014", "002"), website="https://example.org/a?b=1&c=2", acronym="EXO")
    db.session.commit()
    assert_round_trip(client, f"/partners/{org.id}/edit", org)


def test_group_and_meeting_edit_forms_round_trip(client, staff):
    group = make_group(is_public=False)
    meeting = make_meeting(
        group,
        timezone="Africa/Nairobi",
        starts_in=timedelta(days=12),
        capacity=30,
        mode="hybrid",
    )
    # The form edits minutes, like every calendar: start on a whole minute.
    meeting.starts_at = meeting.starts_at.replace(second=0)
    meeting.ends_at = meeting.ends_at.replace(second=0)
    db.session.commit()
    assert_round_trip(client, f"/consultations/groups/{group.id}/edit", group)
    assert_round_trip(client, f"/consultations/meetings/{meeting.id}/edit", meeting)
    assert db.session.get(Meeting, meeting.id).timezone == "Africa/Nairobi"
    assert db.session.get(AdvisoryGroup, group.id).is_public is False


def test_outcome_edit_form_round_trips(client, staff):
    group = make_group()
    member = make_user()
    add_member(group, member)
    meeting = make_meeting(group, starts_in=timedelta(days=-3))
    outcome = Outcome(
        meeting=meeting,
        kind="action",
        title="Circulate the draft to the regional groups",
        description="Two weeks before the next meeting.",
        owner_id=member.id,
        due_on=date(2027, 1, 15),
        status="open",
    )
    db.session.add(outcome)
    db.session.commit()
    assert_round_trip(client, f"/consultations/outcomes/{outcome.id}/edit", outcome)


def test_user_edit_form_round_trips(client):
    admin = make_user(Role.ADMIN)
    org = make_org()
    user = make_user(Role.PARTNER, organization=org)
    db.session.commit()
    login(client, admin.email)
    assert_round_trip(client, f"/account/users/{user.id}/edit", user)
    assert db.session.get(User, user.id).organization_id == org.id
    assert db.session.get(Organization, org.id) is not None
