"""Time zones of meetings and viewers: IANA names from ``zoneinfo``, times stored in UTC.

No database and no services here, so the calendar export (ics.py), the notices and the
services can all use it without importing one another.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC = ZoneInfo("UTC")


def valid_timezones() -> set[str]:
    return available_timezones()


def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo for a stored name; anything unknown falls back to UTC (never raises)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz`` as an aware UTC datetime."""
    return local.replace(tzinfo=tz).astimezone(UTC)
