"""``flask seed-demo`` also fills consultations and reviews (portal/demo/engagement.py)."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from portal.accounts.models import User
from portal.consultations.models import (
    AdvisoryGroup,
    AgendaItem,
    AttendanceRecord,
    GroupMember,
    Invitation,
    Meeting,
    Minutes,
    MinutesRevision,
    Outcome,
    OutcomeNote,
)
from portal.consultations.records_services import is_overdue
from portal.core.audit import AuditLog
from portal.core.models import as_utc, utcnow
from portal.demo import engagement_data as content
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from portal.reviews.models import (
    BackgroundJob,
    Comment,
    Disposition,
    DocumentVersion,
    DraftDocument,
    Paragraph,
    Placement,
    ReviewInvitation,
    ReviewRound,
)
from portal.search.registry import get_backend
from tests.conftest import login

PASSWORD = "demo-password-2026"  # noqa: S105 — the public demo login
COUNTED = [
    User, AdvisoryGroup, GroupMember, Meeting, AgendaItem, Invitation, AttendanceRecord,
    Minutes, MinutesRevision, Outcome, OutcomeNote, DraftDocument, DocumentVersion, Paragraph,
    ReviewRound, ReviewInvitation, Comment, Disposition, BackgroundJob, OutgoingMail, AuditLog,
]  # fmt: skip


def counts() -> dict[str, int]:
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def one(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


def seed(runner, *args: str) -> str:
    result = runner.invoke(args=["seed-demo", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_seed_demo_shows_consultations_and_reviews(app, runner, client):
    # The database index outlives each test's emptied tables: start from an empty one, so
    # `search check` below compares this seed with what it indexed, nothing older.
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    output = seed(runner)
    assert "member1@example.org" in output and "advisory groups" in output
    # Seeding never leaves e-mail for the demo's made-up addresses, nor a job that would send it.
    assert db.session.scalar(select(func.count(OutgoingMail.id))) == 0
    assert set(db.session.scalars(select(BackgroundJob.status))) == {"done"}

    sag = one(AdvisoryGroup, name=content.SAG_NAME)
    wuf = one(AdvisoryGroup, name=content.WUF_GROUP_NAME)
    assert sag.is_public and not wuf.is_public
    roles = {m.user.email: m.role for m in sag.members}
    assert len(roles) == 15
    assert roles["staff@example.org"] == "secretariat" and roles["member1@example.org"] == "chair"
    assert roles["member12@example.org"] == "observer"
    assert roles["partner@example.org"] == roles["reviewer@example.org"] == "member"
    assert len({m.constituency for m in sag.members if m.constituency}) >= 7

    # Six held meetings with published minutes; two upcoming ones after the real date.
    meetings = db.session.scalars(
        select(Meeting).where(Meeting.group_id == sag.id).order_by(Meeting.starts_at)
    ).all()
    held = [m for m in meetings if m.status == "held"]
    upcoming = [m for m in meetings if m.status == "scheduled"]
    assert len(held) == 6 and len(upcoming) == 2
    assert all(m.minutes.status == "published" and m.attendance for m in held)
    assert all(as_utc(m.starts_at) > utcnow() for m in upcoming)
    # A monthly series: consecutive months from the first held meeting to the last upcoming
    # one (it once had a 14-month gap between the past and the upcoming meetings).
    sag_months = sorted(
        as_utc(m.starts_at).year * 12 + as_utc(m.starts_at).month
        for m in held + upcoming
        if m.group.name == held[0].group.name
    )
    assert sag_months == list(range(sag_months[0], sag_months[0] + len(sag_months))), sag_months
    assert all(as_utc(m.starts_at) < utcnow() for m in held)
    hybrid = next(m for m in upcoming if m.mode == "hybrid")
    assert hybrid.capacity == 6
    assert sum(i.waitlisted for i in hybrid.invitations) == 2
    partner = one(User, email="partner@example.org")
    assert all(any(i.user_id == partner.id for i in m.invitations) for m in upcoming)
    answers = {i.response for m in upcoming for i in m.invitations}
    assert {"pending", "accepted", "declined", "tentative"} <= answers

    outcomes = db.session.scalars(select(Outcome)).all()
    assert any(is_overdue(o) for o in outcomes)
    assert any(o.status == "done" for o in outcomes)
    assert any(o.status not in ("done", "dropped") and not is_overdue(o) for o in outcomes)

    # Anyone: the public group, its meetings and published minutes, and its tracker.
    page = client.get("/consultations/")
    assert page.status_code == 200
    assert content.SAG_NAME in page.text and content.WUF_GROUP_NAME not in page.text
    page = client.get(f"/consultations/groups/{sag.id}")
    assert page.status_code == 200
    assert "Amina Wanjiru" in page.text and "6th meeting" in page.text
    assert client.get(f"/consultations/groups/{wuf.id}").status_code == 404
    french = next(m for m in held if m.title.startswith("3e réunion"))
    page = client.get(f"/consultations/meetings/{french.id}/minutes")
    assert page.status_code == 200 and "Examens locaux volontaires" in page.text
    chinese = next(m for m in held if m.title.startswith("4th meeting"))
    page = client.get(f"/consultations/meetings/{chinese.id}/minutes")
    assert page.status_code == 200 and "松阳县坚持" in page.text
    page = client.get(f"/consultations/groups/{sag.id}/tracker")
    assert page.status_code == 200
    assert "Create a partner pledging window" in page.text and "overdue" in page.text

    # The partner member sees the hybrid meeting, with its waiting list, and their invitation.
    login(client, "partner@example.org", PASSWORD)
    page = client.get(f"/consultations/meetings/{hybrid.id}")
    assert page.status_code == 200 and "2 waiting" in page.text
    client.get("/account/logout")

    # A visitor without an account: the seed report is an open public consultation.
    seed_round = one(ReviewRound, title=content.SEED_ROUND_TITLE)
    assert seed_round.public
    client = app.test_client()  # a fresh visitor, no session
    page = client.get("/reviews/")
    assert page.status_code == 200 and content.SEED_ROUND_TITLE in page.text
    page = client.get(f"/reviews/rounds/{seed_round.id}")
    assert page.status_code == 200 and content.SEED_DOC_TITLE in page.text
    docket = client.get(f"/reviews/rounds/{seed_round.id}/docket.json").get_json()
    assert docket["total"] > 0
    assert any(c["answer"] for c in docket["comments"])
    page = client.get(f"/reviews/rounds/{seed_round.id}/heard")
    assert page.status_code == 200
    wuf_round = one(ReviewRound, title=content.WUF_ROUND_TITLE)
    assert client.get(f"/reviews/rounds/{wuf_round.id}").status_code == 302  # invitation-only
    assert content.WUF_ROUND_TITLE not in client.get("/reviews/").text

    # The reviewer: the open round on the seed report and the closed round's "what we heard".
    login(client, "reviewer@example.org", PASSWORD)
    assert as_utc(seed_round.closes_at) > utcnow()
    in_round = select(func.count(Comment.id)).where(Comment.round_id == seed_round.id)
    assert db.session.scalar(in_round) == 30
    page = client.get(f"/reviews/rounds/{seed_round.id}")
    assert page.status_code == 200
    assert content.SEED_DOC_TITLE in page.text and "利益攸关方咨询小组" in page.text
    wuf_round = one(ReviewRound, title=content.WUF_ROUND_TITLE)
    assert wuf_round.status == "closed"
    carried = db.session.scalars(select(Comment).where(Comment.round_id == wuf_round.id)).all()
    assert all(c.disposition is not None for c in carried)
    assert all(c.placement == Placement.PLACED and c.carried_to_version_id for c in carried)
    page = client.get(f"/reviews/rounds/{wuf_round.id}/heard")
    assert page.status_code == 200
    assert "Guarantee schemes for housing cooperatives added" in page.text
    assert "Version 2, paragraph 13." in page.text

    # Every new kind reached the search outbox: after a sync the index agrees with the database.
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 0, check.output
    found = client.get("/search/", query_string={"q": "pledging window"})
    assert "partner pledging window" in found.text


def test_seeding_twice_changes_nothing_and_force_adds_what_is_missing(runner):
    seed(runner)
    before = counts()
    assert before["Meeting"] == 9 and before["DraftDocument"] == 2 and before["Comment"] == 42

    assert "already has" in seed(runner)
    assert counts() == before
    assert "nothing was added" in seed(runner, "--force")
    assert counts() == before

    # Take one held meeting (and all that hangs off it) away: --force puts back just that.
    french = one(Meeting, title=content.HELD_MEETINGS[2]["title"])
    db.session.delete(french)
    db.session.execute(delete(OutgoingMail))
    db.session.commit()
    assert counts()["Minutes"] == before["Minutes"] - 1
    output = seed(runner, "--force")
    assert "1 meetings" in output
    after = counts()
    assert {k: v for k, v in after.items() if k != "AuditLog"} == {
        k: v for k, v in before.items() if k != "AuditLog"
    }
