"""Consultation pages, by sub-domain, all on one blueprint (``common.bp``):

- ``groups``       the home page, advisory groups and their members
- ``meetings``     scheduling a meeting and the meeting page
- ``agenda``       agenda items, proposals and their documents
- ``invitations``  inviting members and answering (RSVP)
- ``calendars``    .ics files, the personal feed and the viewer's preferences
- the record of a meeting: ``attendance``, ``minutes``, ``outcomes`` (with the series tracker
  and report), ``dashboard`` (staff), and ``record_panels`` shown on the meeting and group pages

A handler loads (404 when the viewer may not see the object) → checks access with the guard
(``@require(...)``/``ensure(...)``, rules in ``permissions.py``) → calls a use case through
``attempt`` → redirects, or re-renders with the errors beside the fields. It never commits: the
request does, once (``portal.core.transaction``).
"""

from portal.consultations.views import (
    agenda,
    attendance,
    calendars,
    dashboard,
    groups,
    invitations,
    meetings,
    minutes,
    outcomes,
    record_panels,
)
from portal.consultations.views.common import (
    bp,
    get_visible_group_or_404,
    get_visible_meeting_or_404,
)

__all__ = [
    "agenda",
    "attendance",
    "bp",
    "calendars",
    "dashboard",
    "get_visible_group_or_404",
    "get_visible_meeting_or_404",
    "groups",
    "invitations",
    "meetings",
    "minutes",
    "outcomes",
    "record_panels",
]
