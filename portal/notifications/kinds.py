"""The kinds of notification a person can choose how to receive.

Mail that is legally or practically required (password reset, account invitation, a moderator
hiding your comment) is not a kind: it is always sent and carries no unsubscribe link.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class Delivery(enum.StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"
    NEVER = "never"


DELIVERY_LABELS: dict[str, LazyString] = {
    Delivery.IMMEDIATE.value: _l("Immediately"),
    Delivery.DAILY.value: _l("Daily digest"),
    Delivery.WEEKLY.value: _l("Weekly digest"),
    Delivery.NEVER.value: _l("Never"),
}
DIGESTS = (Delivery.DAILY.value, Delivery.WEEKLY.value)


@dataclass(frozen=True)
class Kind:
    key: str
    label: LazyString
    default: str
    staff_only: bool = False


_KINDS = [
    Kind("comment-answered", _l("The secretariat answers my comment"), Delivery.IMMEDIATE),
    Kind("comment-reply", _l("Someone replies to my comment"), Delivery.IMMEDIATE),
    Kind("round-changed", _l("A review round I take part in changes its deadline"), "immediate"),
    Kind("round-closing", _l("A review round I was invited to closes soon"), Delivery.IMMEDIATE),
    Kind("meeting-update", _l("A meeting I am invited to moves or is cancelled"), "immediate"),
    Kind("meeting-reminder", _l("Reminder before a meeting I am invited to"), "immediate"),
    Kind("minutes-published", _l("Minutes of my group's meetings are published"), "daily"),
    Kind("action-assigned", _l("An action item is assigned to me"), Delivery.IMMEDIATE),
    Kind("action-overdue", _l("An action item I own is overdue"), Delivery.DAILY),
    Kind("proposal-decided", _l("My proposed edit to a partner profile is decided"), "immediate"),
    Kind("rsvp-summary", _l("RSVP summary before a meeting I organise"), "immediate", True),
    Kind("minutes-overdue", _l("Minutes not yet circulated after a meeting"), "daily", True),
]
KINDS: dict[str, Kind] = {kind.key: kind for kind in _KINDS}


def kinds_for(user) -> list[Kind]:
    """The kinds a user can receive (staff summaries only for staff)."""
    from portal.accounts.permissions import is_staff

    staff = is_staff(user)
    return [kind for kind in _KINDS if staff or not kind.staff_only]
