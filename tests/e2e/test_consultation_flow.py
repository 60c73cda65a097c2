"""Issue 4 browser acceptance: staff schedule a meeting and invite the group; a member RSVPs;
staff record attendance, write and publish the minutes with one action item; the member sees
the minutes and the action item. The meeting's .ics is parsed with ``icalendar``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from portal.accounts.models import Role
from portal.consultations.models import AdvisoryGroup, GroupMember
from portal.extensions import db
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e

TITLE = "Consultation on the World Cities Report 2026"
ACTION = "Share the WCR outline with all constituencies"


def _log_in(page, email: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/account/login" not in url)


def _no_errors(page) -> None:
    assert page.locator(".flash-error").count() == 0, page.locator("main").inner_text()


def test_meeting_from_invitation_to_published_minutes_and_action_item(
    page, browser, live_server, factories
):
    staff = factories.make_user(
        Role.STAFF, email="secretariat@unhabitat.example", name="Maria Staff"
    )
    org = factories.make_org("Huairou Commission", country="US", regions=("021",))
    member = factories.make_user(
        email="amina@huairou.example", name="Amina Mwangi", organization=org
    )
    # A private group: only its members (and staff) may see the meeting and its record.
    group = AdvisoryGroup(
        name="Stakeholder Advisory Group", description="Para. 37", is_public=False
    )
    db.session.add(group)
    db.session.flush()
    db.session.add(GroupMember(group=group, user=member, role="member", organization_id=org.id))
    db.session.commit()

    # --- staff schedule the meeting and invite the whole group --------------------------------
    _log_in(page, staff.email)
    page.goto(f"/consultations/meetings/new?group_id={group.id}")
    nairobi = datetime.now(ZoneInfo("Africa/Nairobi")) + timedelta(days=5)
    starts = nairobi.replace(hour=14, minute=0, second=0, microsecond=0)
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Advisory group").select_option(str(group.id))
    page.get_by_label("Knowledge products (e.g. World Cities Report)").check()
    page.get_by_label("Starts (local time)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends (local time)").fill(
        (starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Time zone").select_option("Africa/Nairobi")
    page.get_by_label("Mode").select_option(label="Online")
    page.get_by_label("Online meeting link").fill("https://meet.example.org/sag-wcr")
    page.get_by_label("Status").select_option(label="Scheduled")
    page.get_by_role("button", name="Save meeting").click()
    page.wait_for_url(re.compile(r"/consultations/meetings/\d+$"))
    _no_errors(page)
    meeting_url = page.url
    meeting_id = int(meeting_url.rsplit("/", 1)[1])
    on_meeting = re.compile(rf"/consultations/meetings/{meeting_id}(#\w+)?$")  # may end in #section

    page.get_by_role("link", name="Invite", exact=True).click()
    page.get_by_label("The whole group").check()
    page.get_by_role("button", name="Send invitations").click()
    page.wait_for_url(on_meeting)
    _no_errors(page)

    # --- the member accepts, in their own browser session ---------------------------------------
    member_context = browser.new_context(base_url=live_server, locale="en-GB")
    try:
        mpage = member_context.new_page()
        mpage.set_default_timeout(15_000)
        _log_in(mpage, member.email)
        mpage.goto(f"/consultations/meetings/{meeting_id}")
        mpage.get_by_label("Accept").check()
        mpage.get_by_label("Comment").fill("I will present the grassroots survey.")
        mpage.get_by_role("button", name="Send my answer").click()
        mpage.wait_for_load_state()
        assert "Your answer: Accepted" in mpage.locator("#rsvp").inner_text()

        # --- staff record attendance, write and publish minutes, add an action item -------------
        page.goto(meeting_url)
        page.get_by_role("link", name="Record attendance").click()
        page.get_by_label("Attendance of Amina Mwangi").select_option("present")
        page.get_by_role("button", name="Save attendance").click()
        page.wait_for_url(on_meeting)
        _no_errors(page)

        page.get_by_role("link", name="Write minutes").first.click()
        page.get_by_label("Minutes (Markdown)").fill(
            f"# {TITLE}\n\n## Knowledge products\n\n"
            "Members welcomed the **draft outline** of the World Cities Report.\n\n"
            "- Grassroots survey results to feed chapter 3\n"
        )
        page.get_by_role("button", name="Save minutes").click()
        page.wait_for_url(re.compile(r"/minutes$"))
        _no_errors(page)
        for button in ("Circulate for approval", "Record approval", "Publish minutes"):
            page.get_by_role("button", name=button).click()
            page.wait_for_load_state()
            _no_errors(page)
        assert "Published" in page.locator(".minutes-meta").inner_text()

        page.goto(meeting_url)
        page.get_by_role("link", name="Add outcome").click()
        page.get_by_label("Kind").select_option(label="Action item")
        page.get_by_label("Title", exact=True).fill(ACTION)
        page.get_by_label("Engagement area").select_option("knowledge-products")
        page.get_by_label("Owner", exact=True).select_option(label="Amina Mwangi")
        page.get_by_label("Due date").fill((starts + timedelta(days=21)).strftime("%Y-%m-%d"))
        page.get_by_role("button", name="Add outcome").click()
        page.wait_for_url(on_meeting)
        _no_errors(page)

        # --- the member reads the minutes and finds the action item ----------------------------
        mpage.goto(f"/consultations/meetings/{meeting_id}")
        record = mpage.locator("#meeting-record")
        assert ACTION in record.inner_text()
        record.get_by_role("link", name="Read the minutes").click()
        mpage.wait_for_url(re.compile(r"/minutes$"))
        minutes = mpage.locator("main").inner_text()
        assert "Members welcomed the draft outline of the World Cities Report." in minutes
        assert "Amina Mwangi (Huairou Commission)" in minutes  # the attendance block
        assert mpage.locator(".minutes-body strong", has_text="draft outline").count() == 1
        mpage.get_by_role("link", name=ACTION).click()
        outcome_page = mpage.locator("main").inner_text()
        assert "Action item" in outcome_page and "Amina Mwangi" in outcome_page
        assert "Report progress" in outcome_page  # she owns it

        # --- the meeting's calendar file ---------------------------------------------------------
        response = mpage.request.get(f"/consultations/meetings/{meeting_id}.ics")
        assert response.ok
        assert response.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.body())
        events = [c for c in calendar.walk("VEVENT")]
        assert len(events) == 1
        event = events[0]
        assert str(event["SUMMARY"]) == TITLE
        dtstart = event.decoded("DTSTART")
        assert dtstart == starts
        assert dtstart.utcoffset() == timedelta(hours=3)  # Nairobi, no daylight saving
        attendees = event.get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees]
        amina = [a for a in attendees if str(a).lower() == f"mailto:{member.email}"]
        assert amina and amina[0].params.get("PARTSTAT") == "ACCEPTED"
    finally:
        member_context.close()
