"""Outcomes across a series: creating them, owners' progress notes, the tracker (filters,
overdue, who sees what), the compiled series report (HTML and DOCX with Chinese and Arabic)
and the staff consultations dashboard."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from docx import Document
from docx.oxml.ns import qn
from sqlalchemy import select

from portal.accounts.models import Role
from portal.consultations.models import (
    AttendanceRecord,
    Minutes,
    MinutesStatus,
    Outcome,
    OutcomeNote,
)
from portal.core.models import utcnow
from portal.extensions import db
from tests.conftest import login
from tests.consultations import add_member, invite_user, make_group, make_meeting
from tests.factories import make_org, make_user

TODAY = utcnow().date()


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _publish_minutes(meeting, body: str) -> Minutes:
    minutes = Minutes(meeting=meeting, body=body, status=MinutesStatus.PUBLISHED.value)
    minutes.published_at = utcnow()
    db.session.add(minutes)
    db.session.flush()
    return minutes


def _outcome(meeting, title: str, **kw) -> Outcome:
    outcome = Outcome(meeting=meeting, title=title, **kw)
    db.session.add(outcome)
    db.session.flush()
    return outcome


@pytest.fixture
def series():
    staff = make_user(Role.STAFF, email="staff@unhabitat.example", name="Staff One")
    kenya = make_org("Kounkuey Design Initiative", country="KE")
    france = make_org("Cités Unies France", country="FR", stakeholder_group="local-authorities")
    amina = make_user(email="amina@example.org", name="Amina Mwangi", organization=kenya)
    pierre = make_user(email="pierre@example.org", name="Pierre Martin", organization=france)
    outsider = make_user(email="outsider@example.org", name="Olga Outsider")
    group = make_group("Stakeholder Advisory Group", is_public=True)
    add_member(group, amina, organization_id=kenya.id, constituency="grassroots")
    add_member(group, pierre, organization_id=france.id)
    db.session.commit()
    return {
        "staff": staff,
        "amina": amina,
        "pierre": pierre,
        "outsider": outsider,
        "group": group,
        "kenya": kenya,
        "france": france,
    }


# --- outcomes and progress notes --------------------------------------------------------------


def test_staff_add_an_action_item_and_its_owner_reports_progress(client, series):
    meeting = make_meeting(
        series["group"], title="March consultation", starts_in=timedelta(days=-2)
    )
    db.session.commit()
    login(client, series["staff"].email)
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/outcomes/new",
        data={
            "kind": "action",
            "title": "Circulate the World Cities Report outline",
            "description": "To all members before the next meeting.",
            "engagement_area": "knowledge-products",
            "owner_id": str(series["amina"].id),
            "owner_organization_id": "",
            "due_on": (TODAY + timedelta(days=14)).isoformat(),
            "status": "open",
            "note": "",
        },
    )
    assert resp.status_code == 302
    outcome = db.session.scalar(select(Outcome))
    assert (outcome.owner_id, outcome.engagement_area, outcome.status) == (
        series["amina"].id,
        "knowledge-products",
        "open",
    )

    # The owner moves it on with a note; the status change is recorded on the note.
    login(client, series["amina"].email)
    resp = client.post(
        f"/consultations/outcomes/{outcome.id}",
        data={"body": "Outline drafted, shared with two members.", "status": "in-progress"},
        follow_redirects=True,
    )
    assert "Progress note added." in _text(resp)
    assert "status Open → In progress" in _text(resp)
    note = db.session.scalar(select(OutcomeNote))
    assert (note.author_id, note.status_from, note.status_to) == (
        series["amina"].id,
        "open",
        "in-progress",
    )

    # Another member may read it (a member of the group) but not report on it.
    login(client, series["pierre"].email)
    assert client.get(f"/consultations/outcomes/{outcome.id}").status_code == 200
    resp = client.post(
        f"/consultations/outcomes/{outcome.id}", data={"body": "Not mine", "status": "done"}
    )
    assert resp.status_code == 403
    db.session.refresh(outcome)
    assert outcome.status == "in-progress"
    # And members never get the staff edit form.
    assert client.get(f"/consultations/outcomes/{outcome.id}/edit").status_code == 403


def test_staff_status_change_is_noted_and_bad_input_is_refused(client, series):
    meeting = make_meeting(series["group"], starts_in=timedelta(days=-2))
    outcome = _outcome(
        meeting, "Draft resource mobilisation strategy", owner_id=series["pierre"].id
    )
    db.session.commit()
    login(client, series["staff"].email)
    form = {
        "kind": "action",
        "title": "Draft resource mobilisation strategy",
        "description": "",
        "engagement_area": "resource-mobilisation",
        "owner_id": str(series["pierre"].id),
        "owner_organization_id": str(series["france"].id),
        "due_on": "",
        "status": "dropped",
        "note": "Superseded by the donor round-table.",
    }
    assert client.post(f"/consultations/outcomes/{outcome.id}/edit", data=form).status_code == 302
    note = db.session.scalar(select(OutcomeNote))
    assert (note.status_from, note.status_to, note.body) == (
        "open",
        "dropped",
        "Superseded by the donor round-table.",
    )

    resp = client.post(
        f"/consultations/outcomes/{outcome.id}/edit", data={**form, "title": "", "status": "open"}
    )
    assert resp.status_code == 400
    db.session.refresh(outcome)
    assert outcome.status == "dropped"

    # An empty note that changes nothing is refused beside the field.
    resp = client.post(f"/consultations/outcomes/{outcome.id}", data={"body": "", "status": ""})
    assert resp.status_code == 400
    assert "Write a note or change the status." in _text(resp)


# --- tracker ----------------------------------------------------------------------------------


@pytest.fixture
def tracked(series):
    group = series["group"]
    early = make_meeting(group, title="January consultation", starts_in=timedelta(days=-60))
    later = make_meeting(group, title="February consultation", starts_in=timedelta(days=-30))
    _publish_minutes(early, "# January\n\nPublished.")
    # `later` has draft minutes: its outcomes are not public yet.
    db.session.add(Minutes(meeting=later, body="Draft", status=MinutesStatus.DRAFT.value))
    outcomes = {
        "overdue": _outcome(
            early,
            "Map partners for WUF12 side events",
            kind="action",
            engagement_area="advocacy",
            owner_id=series["amina"].id,
            due_on=TODAY - timedelta(days=5),
            status="in-progress",
        ),
        "done_late": _outcome(
            early,
            "Send the voluntary local review template",
            kind="action",
            engagement_area="monitoring-reporting",
            owner_id=series["pierre"].id,
            due_on=TODAY - timedelta(days=20),
            status="done",
        ),
        "recommendation": _outcome(
            early,
            "Involve grassroots groups in programme design",
            kind="recommendation",
            engagement_area="programme-design",
        ),
        "unpublished": _outcome(
            later,
            "Prepare donor briefing",
            kind="action",
            engagement_area="resource-mobilisation",
            owner_id=series["amina"].id,
            due_on=TODAY + timedelta(days=10),
        ),
    }
    db.session.commit()
    return {**series, **outcomes, "early": early, "later": later}


def _titles(page: str, tracked) -> set[str]:
    keys = ("overdue", "done_late", "recommendation", "unpublished")
    return {k for k in keys if tracked[k].title in page}


def test_tracker_filters_by_status_owner_area_and_kind(client, tracked):
    login(client, tracked["staff"].email)
    url = f"/consultations/groups/{tracked['group'].id}/tracker"
    every = _titles(_text(client.get(url)), tracked)
    assert every == {"overdue", "done_late", "recommendation", "unpublished"}
    assert _titles(_text(client.get(url, query_string={"status": "done"})), tracked) == {
        "done_late"
    }
    amina = str(tracked["amina"].id)
    assert _titles(_text(client.get(url, query_string={"owner": amina})), tracked) == {
        "overdue",
        "unpublished",
    }
    assert _titles(_text(client.get(url, query_string={"area": "advocacy"})), tracked) == {
        "overdue"
    }
    assert _titles(_text(client.get(url, query_string={"kind": "recommendation"})), tracked) == {
        "recommendation"
    }
    assert _titles(_text(client.get(url, query_string={"overdue": "1"})), tracked) == {"overdue"}


def test_tracker_highlights_only_open_items_past_their_due_date(client, tracked):
    login(client, tracked["staff"].email)
    page = _text(client.get(f"/consultations/groups/{tracked['group'].id}/tracker"))
    # The title link carries the text's own lang/dir (content language, issue 13).
    rows = re.findall(r'<tr class="([^"]*)">\s*<td><a href="[^"]*"[^>]*>([^<]*)</a>', page)
    overdue_rows = {title for css, title in rows if "overdue" in css}
    assert overdue_rows == {tracked["overdue"].title}  # done late is not overdue
    assert "1 overdue" in page


def test_public_tracker_shows_outsiders_only_published_outcomes(client, tracked):
    url = f"/consultations/groups/{tracked['group'].id}/tracker"
    for email in (tracked["outsider"].email, None):
        client.post("/account/logout")
        if email:
            login(client, email)
        assert _titles(_text(client.get(url)), tracked) == {
            "overdue",
            "done_late",
            "recommendation",
        }
        unpublished = tracked["unpublished"]
        assert client.get(f"/consultations/outcomes/{unpublished.id}").status_code == 404
    # Members follow everything their group decided, published or not.
    login(client, tracked["pierre"].email)
    assert "unpublished" in _titles(_text(client.get(url)), tracked)


def test_private_group_tracker_is_hidden_from_outsiders(client, series):
    group = make_group("Donor round-table", is_public=False)
    add_member(group, series["amina"])
    meeting = make_meeting(group, starts_in=timedelta(days=-3))
    _publish_minutes(meeting, "Confidential")
    outcome = _outcome(meeting, "Confidential pledge follow-up")
    db.session.commit()
    login(client, series["outsider"].email)
    assert client.get(f"/consultations/groups/{group.id}/tracker").status_code == 404
    assert client.get(f"/consultations/groups/{group.id}/report").status_code == 404
    assert client.get(f"/consultations/outcomes/{outcome.id}").status_code == 404
    login(client, series["amina"].email)
    assert "Confidential pledge follow-up" in _text(
        client.get(f"/consultations/groups/{group.id}/tracker")
    )


# --- series report ----------------------------------------------------------------------------

CHINESE = "人居署利用利益攸关方咨询小组，每月与利益攸关方举行协商会议"
ARABIC = "عقد موئل الأمم المتحدة مشاورات شهرية مع الفريق الاستشاري لأصحاب المصلحة"


@pytest.fixture
def report_data(series):
    group = series["group"]
    inside = make_meeting(group, title="九月协商会议", starts_in=timedelta(days=-40))
    _publish_minutes(
        inside,
        f"# 会议纪要\n\n{CHINESE}。\n\n## Arabic summary\n\n{ARABIC}\n\n"
        "- **资源调动** first item\n",
    )
    db.session.add(AttendanceRecord(meeting=inside, user_id=series["amina"].id, status="present"))
    db.session.add(AttendanceRecord(meeting=inside, user_id=series["pierre"].id, status="excused"))
    _outcome(inside, "编写《2022年世界城市报告》的伙伴名单", owner_id=series["amina"].id)
    outside = make_meeting(group, title="Old consultation", starts_in=timedelta(days=-400))
    _publish_minutes(outside, "Ancient history")
    draft = make_meeting(group, title="Unpublished consultation", starts_in=timedelta(days=-20))
    db.session.add(Minutes(meeting=draft, body="Secret draft text", status="approved"))
    db.session.commit()
    start = (TODAY - timedelta(days=90)).isoformat()
    return {**series, "inside": inside, "period": {"from": start, "to": TODAY.isoformat()}}


def test_series_report_compiles_published_minutes_with_attendance_and_outcomes(client, report_data):
    login(client, report_data["staff"].email)
    group_id = report_data["group"].id
    page = _text(
        client.get(f"/consultations/groups/{group_id}/report", query_string=report_data["period"])
    )
    assert "九月协商会议" in page and CHINESE in page and ARABIC in page
    assert "<h1>会议纪要</h1>" in page
    assert "Amina Mwangi (Kounkuey Design Initiative)" in page
    assert "Apologies (excused)" in page and "Pierre Martin (Cités Unies France)" in page
    assert "编写《2022年世界城市报告》的伙伴名单" in page
    assert "Ancient history" not in page  # outside the period
    assert "Secret draft text" not in page  # not published, even for staff


def test_series_report_docx_opens_with_chinese_and_arabic(client, report_data):
    login(client, report_data["amina"].email)
    resp = client.get(
        f"/consultations/groups/{report_data['group'].id}/report.docx",
        query_string=report_data["period"],
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert "attachment" in resp.headers["Content-Disposition"]
    doc = Document(io.BytesIO(resp.data))
    paragraphs = [p.text for p in doc.paragraphs]
    assert "Series report: Stakeholder Advisory Group" in paragraphs
    assert "九月协商会议" in paragraphs
    assert "会议纪要" in paragraphs  # a Markdown heading became a Word heading
    assert f"{CHINESE}。" in paragraphs
    assert "资源调动 first item" in paragraphs  # list item, emphasis stripped
    assert "Present: Amina Mwangi (Kounkuey Design Initiative)" in paragraphs
    assert "Apologies (excused): Pierre Martin (Cités Unies France)" in paragraphs
    arabic = next(p for p in doc.paragraphs if p.text == ARABIC)
    assert arabic._p.pPr.find(qn("w:bidi")) is not None  # laid out right to left
    heading = next(p for p in doc.paragraphs if p.text == "会议纪要")
    assert heading.style.name.startswith("Heading")
    table = doc.tables[0]
    cells = [c.text for row in table.rows for c in row.cells]
    assert "编写《2022年世界城市报告》的伙伴名单" in cells and "Amina Mwangi" in cells
    assert "Secret draft text" not in "\n".join(paragraphs)


def test_series_report_rejects_a_bad_period(client, report_data):
    url = f"/consultations/groups/{report_data['group'].id}/report"
    resp = client.get(url, query_string={"from": "2026-05-01", "to": "2026-04-01"})
    assert resp.status_code == 400
    assert "must not be before its start" in _text(resp)
    resp = client.get(url + ".docx", query_string={"from": "yesterday"})
    assert resp.status_code == 400
    assert "Enter a date as YYYY-MM-DD." in _text(resp)


# --- dashboard --------------------------------------------------------------------------------


def test_dashboard_counts_rsvps_rates_attendance_and_lists_overdue_items(client, series):
    group = series["group"]
    people = [make_user(name=f"Invitee {i}") for i in range(6)]
    upcoming = make_meeting(group, title="Next consultation", starts_in=timedelta(days=7))
    for user, response in zip(
        people, ["accepted", "accepted", "declined", "tentative", "pending"], strict=False
    ):
        invite_user(upcoming, user, response=response)
    invite_user(upcoming, people[5], response="accepted", waitlisted=True)

    # Two past meetings: Kenya (Africa) present twice; France (Europe) present once, excused once.
    first = make_meeting(group, title="Past one", starts_in=timedelta(days=-62))
    second = make_meeting(group, title="Past two", starts_in=timedelta(days=-31))
    for meeting, pierre_status in ((first, "present"), (second, "excused")):
        db.session.add(
            AttendanceRecord(meeting=meeting, user_id=series["amina"].id, status="present")
        )
        db.session.add(
            AttendanceRecord(meeting=meeting, user_id=series["pierre"].id, status=pierre_status)
        )
    _outcome(first, "Overdue follow-up", due_on=TODAY - timedelta(days=1), status="open")
    _outcome(first, "Finished follow-up", due_on=TODAY - timedelta(days=1), status="done")
    db.session.commit()

    login(client, series["amina"].email)
    assert client.get("/consultations/dashboard").status_code == 403
    login(client, series["staff"].email)
    page = _text(client.get("/consultations/dashboard"))

    row = re.search(rf'<tr data-meeting="{upcoming.id}">(.*?)</tr>', page, re.S).group(1)
    counts = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row)]
    assert counts == [2, 1, 1, 1, 1]  # accepted, declined, tentative, pending, waitlisted

    members = re.search(r'<table class="data" id="member-rates">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"Amina Mwangi</th>.*?Africa.*?>2<.*?>2<.*?100\.0%", members, re.S)
    assert re.search(r"Pierre Martin</th>.*?Europe.*?>1<.*?>2<.*?50\.0%", members, re.S)

    assert '<svg class="chart"' in page and 'role="img"' in page
    # The chart's description is an SVG element for screen readers, not escaped visible text.
    assert '<desc id="chart-desc">Attendance rate' in page
    assert "&lt;desc" not in page
    table = re.search(
        r'<table class="data" id="attendance-series">(.*?)</table>', page, re.S
    ).group(1)
    assert "Africa" in table and "Europe" in table
    months = sorted({f"{m.starts_at:%Y-%m}" for m in (first, second)})
    for month in months:
        assert month in table

    overdue = re.search(r'<table class="data" id="overdue">(.*?)</table>', page, re.S).group(1)
    assert "Overdue follow-up" in overdue and "Finished follow-up" not in overdue

    by_constituency = _text(
        client.get("/consultations/dashboard", query_string={"by": "constituency"})
    )
    table = re.search(
        r'<table class="data" id="attendance-series">(.*?)</table>', by_constituency, re.S
    ).group(1)
    # Amina's membership names her constituency; Pierre's falls back to his organisation's.
    assert "Grassroots organisations" in table
    assert "Local and subnational authorities" in table


def test_staff_dashboard_links_to_the_consultations_dashboard(client, series):
    login(client, series["staff"].email)
    page = _text(client.get("/staff/"))
    assert 'href="/consultations/dashboard"' in page


def test_overdue_ignores_items_without_a_due_date(series):
    from portal.consultations.records_services import is_overdue

    meeting = make_meeting(series["group"])
    assert not is_overdue(_outcome(meeting, "No date"))
    assert is_overdue(_outcome(meeting, "Late", due_on=date(2020, 1, 1)))
    assert not is_overdue(_outcome(meeting, "Dropped", due_on=date(2020, 1, 1), status="dropped"))
