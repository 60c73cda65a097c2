"""Dates and times for people: Babel's patterns for the reader's locale, in a given time zone.

Every page, e-mail and calendar text shows a moment through ``format_when`` (weekday, day,
month, year and time in the locale's own order and words: "Thu, 14 Jan 2027, 11:00",
"2027年1月14日周四 11:00", "الخميس، ١٤ يناير ٢٠٢٧ ...") followed by the zone's abbreviation or
UTC offset. Stored datetimes are UTC; naive ones are taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton, format_time, get_datetime_format, get_timezone_gmt

# The interface's English is British (and the UN's 24-hour clock): dates follow en_GB.
_DATE_LOCALES = {"en": "en_GB"}


def _locale(locale=None) -> str:
    if not locale:
        try:
            from flask_babel import get_locale

            locale = get_locale() or "en"
        except RuntimeError:  # outside an application context
            locale = "en"
    code = str(locale)
    return _DATE_LOCALES.get(code, code)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _zone_label(local: datetime, locale: str) -> str:
    """ "EAT", "CET", "UTC" where the zone has a letter abbreviation, else the locale's "GMT+3"."""
    abbr = local.tzname() or ""
    if abbr.isalpha():
        return abbr
    return get_timezone_gmt(local, width="short", locale=locale)


def format_when(
    value: datetime | None, tz_name: str | None = "UTC", *, locale=None, with_zone: bool = True
) -> str:
    """A moment in a time zone, in the reader's language: date with weekday, time, zone."""
    if value is None:
        return ""
    loc = _locale(locale)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone(tz_name))
    day = format_skeleton("yMMMEd", local, locale=loc)
    clock = format_time(local, format="short", locale=loc)
    # The locale's own way of joining a date and a time ("{1}, {0}", "{1} {0}", "{1}، {0}").
    joined = str(get_datetime_format("medium", locale=loc))
    text = joined.replace("{1}", day).replace("{0}", clock)
    return f"{text} {_zone_label(local, loc)}" if with_zone else text


def format_day(value: date | datetime | None, *, locale=None, width: str = "medium") -> str:
    """A calendar day in the reader's language ("14 Jan 2027", "2027年1月14日")."""
    if value is None:
        return ""
    return babel_format_date(value, format=width, locale=_locale(locale))


@lru_cache(maxsize=8)
def _zone_labels(locale: str) -> tuple[tuple[str, str], ...]:
    """(IANA name, "United States (Adak) Time" in the locale) for every canonical zone, sorted
    by label; aliases (US/Alaska, America/Buenos_Aires) are left out, as Babel maps them."""
    from babel.core import get_global
    from babel.dates import get_timezone_location

    aliases = get_global("zone_aliases")
    names = [z for z in available_timezones() if "/" in z and z not in aliases]
    labelled = []
    for name in names:
        try:
            labelled.append((name, get_timezone_location(name, locale=locale)))
        except (LookupError, ValueError):
            labelled.append((name, name))
    return tuple(sorted(labelled, key=lambda pair: (pair[1].casefold(), pair[0])))


def timezone_choices(current: str | None = None, *, locale=None) -> list[tuple[str, str]]:
    """Choices for a time-zone select: UTC first, then every zone by its name in the reader's
    language. A stored zone that is an alias is kept, so editing never changes it silently."""
    loc = _locale(locale)
    choices = [("UTC", "UTC"), *_zone_labels(loc)]
    if current and current not in {value for value, _label in choices}:
        if current in available_timezones():
            choices.append((current, current))
    return choices
