"""Review-round times (opens, closes, deadlines) for each reader: in the time zone they chose
(the preference set on the consultations page) and in their language's date format — on the
pages and in the invitation mail. Without a preference: the round's own time zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal.consultations.models import ConsultationPreference
from portal.core.dates import format_when
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail
from portal.reviews.jobs import run_pending_jobs
from tests.conftest import login
from tests.reviews.conftest import open_emails_round, publish_seed

ENGLISH_MONTH = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")


@pytest.fixture
def timed_round(seed_markdown, staff, reviewer, other_reviewer):
    """A round in Africa/Nairobi (UTC+3, no summer time) closing at 17:00 Nairobi time."""
    _document, version = publish_seed(seed_markdown, staff, title="Timed draft")
    day = (utcnow() + timedelta(days=10)).date()
    round_ = open_emails_round(
        version,
        staff,
        [reviewer.email, other_reviewer.email],
        opens_at=datetime.combine(utcnow().date() - timedelta(days=1), datetime.min.time()),
        closes_at=datetime(day.year, day.month, day.day, 17, 0),
        timezone="Africa/Nairobi",
    )
    db.session.commit()
    run_pending_jobs()  # the invitations
    return round_


def choose_zone(user, name: str) -> None:
    db.session.add(ConsultationPreference(user_id=user.id, timezone=name, feed_key=f"k{user.id}"))
    db.session.commit()


def test_round_page_shows_the_deadline_in_the_readers_zone_and_language(
    client, timed_round, reviewer
):
    choose_zone(reviewer, "Asia/Shanghai")  # UTC+8: 17:00 in Nairobi is 22:00 there
    login(client, reviewer.email)
    page = client.get("/reviews/?lang=zh").get_data(as_text=True)
    expected = format_when(as_utc(timed_round.closes_at), "Asia/Shanghai", locale="zh")
    assert "22:00" in expected and "年" in expected
    assert f"{expected} (Asia/Shanghai)" in page
    assert "(Africa/Nairobi)" not in page
    assert not ENGLISH_MONTH.search(expected)


def test_without_a_preference_the_rounds_own_zone(client, timed_round, other_reviewer):
    login(client, other_reviewer.email)
    page = client.get("/reviews/?lang=en").get_data(as_text=True)
    expected = format_when(as_utc(timed_round.closes_at), "Africa/Nairobi", locale="en")
    assert "17:00" in expected
    assert f"{expected} (Africa/Nairobi)" in page


def test_staff_round_page_in_the_staff_members_zone(client, timed_round, staff):
    choose_zone(staff, "America/New_York")
    login(client, staff.email)
    page = client.get(f"/reviews/rounds/{timed_round.id}?lang=ru").get_data(as_text=True)
    closes = format_when(as_utc(timed_round.closes_at), "America/New_York", locale="ru")
    opens = format_when(as_utc(timed_round.opens_at), "America/New_York", locale="ru")
    assert f"{opens} (America/New_York)" in page
    assert f"{closes} (America/New_York)" in page
    assert not ENGLISH_MONTH.search(closes)


def test_invitation_mail_gives_each_reader_the_deadline_in_their_zone_and_language(
    staff, seed_markdown, reviewer, other_reviewer
):
    reviewer.locale = "ar"
    choose_zone(reviewer, "Asia/Dubai")  # UTC+4: 18:00
    other_reviewer.locale = "fr"  # no zone chosen: Nairobi time, in French
    db.session.commit()
    _document, version = publish_seed(seed_markdown, staff, title="Timed draft")
    day = (utcnow() + timedelta(days=10)).date()
    round_ = open_emails_round(
        version,
        staff,
        [reviewer.email, other_reviewer.email],
        closes_at=datetime(day.year, day.month, day.day, 17, 0),
        timezone="Africa/Nairobi",
    )
    db.session.commit()
    run_pending_jobs()
    mails = {
        m.to_address: m
        for m in db.session.scalars(
            select(OutgoingMail).where(OutgoingMail.category == f"review-invitation:{round_.id}")
        )
    }
    closes = as_utc(round_.closes_at)
    arabic = format_when(closes, "Asia/Dubai", locale="ar")
    french = format_when(closes, "Africa/Nairobi", locale="fr")
    assert arabic != format_when(closes, "Asia/Dubai", locale="en")
    assert f"{arabic} (Asia/Dubai)" in mails[reviewer.email].body_text
    assert f"{arabic} (Asia/Dubai)" in mails[reviewer.email].body_html
    assert not ENGLISH_MONTH.search(mails[reviewer.email].body_text)
    assert f"{french} (Africa/Nairobi)" in mails[other_reviewer.email].body_text
    assert "17:00" in french
