"""How a review round's times are written: in the round's own time zone, with the zone named.

Below services and notices (which both use it), so neither imports the other for it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.core.dates import format_when
from portal.core.models import as_utc
from portal.reviews.models import ReviewRound


def format_round_time(round_: ReviewRound, value: datetime) -> str:
    """A round's times are shown in its own time zone, with the zone named."""
    try:
        tz = ZoneInfo(round_.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return f"{format_when(as_utc(value), tz.key)} ({tz.key})"
