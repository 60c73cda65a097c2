"""A draft with a table renders on the version page and the round page (it was a 500:
``'review_table_rows' is undefined`` inside the imported document macro)."""

from __future__ import annotations

from portal.extensions import db
from tests.conftest import login
from tests.reviews.conftest import open_emails_round, publish_seed

DRAFT = """# Draft background paper

1. Partners by region are listed in the table below.

| Region | Partners |
|---|---|
| Africa | 120 |
| Arab States | 45 |

2. The secretariat will report on the consultations.
"""


def test_version_and_round_pages_render_a_table(client, staff, reviewer):
    document, version = publish_seed(DRAFT, staff, title="Draft with a table")
    review_round = open_emails_round(version, staff, [reviewer.email])
    db.session.commit()
    login(client, staff.email)
    for url in (
        f"/reviews/documents/{document.id}/versions/{version.number}",
        f"/reviews/rounds/{review_round.id}",
    ):
        page = client.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, url
        assert "<table" in html and "Arab States" in html and "120" in html, url


def test_round_times_entered_in_nairobi_are_stored_and_shown_in_nairobi_time(
    client, staff, reviewer
):
    """Entered 07:36 Africa/Nairobi (UTC+3) → 04:36 UTC stored, "07:36" shown (on SQLite the
    wall-clock time was stored unconverted and shown as 10:36)."""
    from datetime import datetime, timedelta

    from portal.core.models import as_utc, utcnow
    from portal.reviews.models import ReviewRound
    from portal.reviews.services import format_round_time

    _document, version = publish_seed(DRAFT, staff, title="Timed draft")
    day = (utcnow() + timedelta(days=3)).date()
    opens = datetime(day.year, day.month, day.day, 7, 36)
    review_round = open_emails_round(
        version,
        staff,
        [reviewer.email],
        opens_at=opens,
        closes_at=opens + timedelta(days=7),
        timezone="Africa/Nairobi",
    )
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(ReviewRound, review_round.id)
    assert as_utc(stored.opens_at).hour == 4 and as_utc(stored.opens_at).minute == 36
    assert "07:36" in format_round_time(stored, stored.opens_at)
