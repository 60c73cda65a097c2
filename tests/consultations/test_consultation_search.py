"""Consultation documents in search, on the database backend: published minutes, agenda items
and outcomes carry the meeting's principals, so a private group's record is found by its
members and staff and by nobody else; drafts are never indexed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.accounts.models import Role
from portal.consultations import records_services as services
from portal.consultations.models import AgendaItem, Outcome
from portal.core.principals import viewer_principals
from portal.extensions import db
from portal.search.base import SearchQuery
from portal.search.documents import all_doc_ids
from portal.search.registry import get_backend
from tests.conftest import login
from tests.consultations import add_member, make_group, make_meeting
from tests.factories import make_user


@pytest.fixture(autouse=True)
def index(app):
    """The database backend, whatever PORTAL_TEST_SEARCH_URL says, emptied around each test."""
    previous = app.config["SEARCH_URL"]
    app.config["SEARCH_URL"] = "database"
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    yield backend
    backend.clear()
    app.config["SEARCH_URL"] = previous


def found(backend, text: str, user=None) -> set[str]:
    query = SearchQuery(text=text, principals=viewer_principals(user))
    return {hit.id for hit in backend.search(query).hits}


@pytest.fixture
def people():
    staff = make_user(Role.STAFF, email="staff@unhabitat.example")
    member = make_user(email="member@example.org")
    outsider = make_user(email="outsider@example.org")
    former = make_user(email="former@example.org")
    private = make_group("Donor round-table", is_public=False)
    add_member(private, member)
    add_member(private, former, left_on=date(2020, 1, 1))
    db.session.commit()
    return {
        "staff": staff,
        "member": member,
        "outsider": outsider,
        "former": former,
        "group": private,
    }


def _publish(meeting, staff, body: str):
    services.save_minutes(staff, meeting, body, 0)
    for action in ("circulate", "approve", "publish"):
        services.change_minutes_status(staff, meeting, action, meeting.minutes.version)


def test_private_groups_minutes_are_found_by_members_and_staff_only(app, index, people):
    meeting = make_meeting(people["group"], title="Pledging round", starts_in=timedelta(days=-2))
    with app.test_request_context():
        services.save_minutes(people["staff"], meeting, "Discussed the zanzibarite pledge.", 0)
    db.session.commit()
    # A draft is indexed for nobody, not even staff.
    assert found(index, "zanzibarite", people["staff"]) == set()

    with app.test_request_context():
        for action in ("circulate", "approve", "publish"):
            services.change_minutes_status(
                people["staff"], meeting, action, meeting.minutes.version
            )
    db.session.commit()
    doc_id = f"minutes:{meeting.minutes.id}"
    assert found(index, "zanzibarite", people["member"]) == {doc_id}
    assert found(index, "zanzibarite", people["staff"]) == {doc_id}
    assert found(index, "zanzibarite", people["outsider"]) == set()
    assert found(index, "zanzibarite", people["former"]) == set()  # left the group
    assert found(index, "zanzibarite", None) == set()
    assert doc_id in set(all_doc_ids(db.session))


def test_member_finds_private_minutes_on_the_search_page_outsider_does_not(
    app, client, index, people
):
    meeting = make_meeting(people["group"], title="Pledging round", starts_in=timedelta(days=-2))
    with app.test_request_context():
        _publish(meeting, people["staff"], "The quetzalcoatlus facility was agreed.")
    db.session.commit()
    login(client, people["member"].email)
    page = client.get("/search/", query_string={"q": "quetzalcoatlus"}).get_data(as_text=True)
    assert f'href="/consultations/meetings/{meeting.id}/minutes"' in page
    login(client, people["outsider"].email)
    page = client.get("/search/", query_string={"q": "quetzalcoatlus"}).get_data(as_text=True)
    assert f"/consultations/meetings/{meeting.id}/minutes" not in page


def test_public_group_agenda_and_outcomes_follow_the_meeting_and_the_minutes(app, index, people):
    group = make_group("Stakeholder Advisory Group", is_public=True)
    meeting = make_meeting(group, title="Open consultation", starts_in=timedelta(days=-1))
    draft_meeting = make_meeting(group, title="Being planned", status="draft")
    db.session.add(AgendaItem(meeting=meeting, title="Habitat xylophone programme", position=1))
    db.session.add(AgendaItem(meeting=draft_meeting, title="Xylophone follow-up", position=1))
    db.session.add(
        AgendaItem(meeting=meeting, title="Xylophone proposal", position=2, status="proposed")
    )
    db.session.commit()
    agenda = {hit for hit in found(index, "xylophone") if hit.startswith("agenda:")}
    assert len(agenda) == 1  # accepted item of a scheduled meeting only
    assert found(index, "xylophone", people["staff"]) == agenda  # drafts are not indexed at all

    outcome = Outcome(meeting=meeting, title="Mobilise the okapi fund", kind="action")
    db.session.add(outcome)
    db.session.commit()
    assert found(index, "okapi", people["staff"]) == set()  # minutes not published yet
    with app.test_request_context():
        _publish(meeting, people["staff"], "Public minutes.")
    db.session.commit()
    assert found(index, "okapi") == {f"outcome:{outcome.id}"}  # anonymous: public group

    # Making the group private re-indexes everything hanging off it with group principals.
    group.is_public = False
    db.session.commit()
    assert found(index, "okapi") == set()
    assert found(index, "okapi", people["staff"]) == {f"outcome:{outcome.id}"}
