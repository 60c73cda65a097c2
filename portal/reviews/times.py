"""How a review round's times are written: in the reader's own time zone when they chose one
(the preference set on the consultations page), else the round's; the zone named.

Below services and notices (which both use it), so neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.core.dates import format_when
from portal.core.models import as_utc
from portal.reviews.models import ReviewRound


def reader_timezones(user_ids) -> dict[int, str]:
    """The time zone each of these people chose for themselves (the preference they set on
    the consultations page), for those who chose one: one query for a whole mail batch."""
    from sqlalchemy import select

    from portal.consultations.models import ConsultationPreference
    from portal.extensions import db

    ids = [uid for uid in set(user_ids) if uid is not None]
    if not ids:
        return {}
    rows = db.session.execute(
        select(ConsultationPreference.user_id, ConsultationPreference.timezone).where(
            ConsultationPreference.user_id.in_(ids),
            ConsultationPreference.timezone.is_not(None),
            ConsultationPreference.timezone != "",
        )
    )
    return dict(rows.all())


def reader_timezone(user) -> str | None:
    """The reader's own time zone, or None (anonymous, or never chose one). A primary-key
    get: a page asking for every round it lists reads the preference once."""
    from portal.consultations.models import ConsultationPreference
    from portal.extensions import db

    if not getattr(user, "is_authenticated", False):
        return None
    pref = db.session.get(ConsultationPreference, user.id)
    return (pref.timezone or None) if pref is not None else None


def format_round_time(round_: ReviewRound, value: datetime, reader_tz: str | None = None) -> str:
    """A round's moment (opens, closes) for one reader: in the reader's own time zone when
    they chose one, else in the round's; in the current locale's words and order; the zone
    named ("Thu, 14 Jan 2027, 17:00 EAT (Africa/Nairobi)")."""
    try:
        tz = ZoneInfo(reader_tz or round_.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return f"{format_when(as_utc(value), tz.key)} ({tz.key})"


def round_time_for(user) -> Callable[[ReviewRound, datetime], str]:
    """``format_round_time`` for this reader (one preference lookup, however many times)."""
    reader_tz = reader_timezone(user)
    return lambda round_, value: format_round_time(round_, value, reader_tz)
