"""Consultation pages, by sub-domain, all on one blueprint (``common.bp``):

- ``groups``       the home page, advisory groups and their members
- ``meetings``     scheduling a meeting and the meeting page
- ``agenda``       agenda items, proposals and their documents
- ``invitations``  inviting members and answering (RSVP)
- ``calendars``    .ics files, the personal feed and the viewer's preferences
- ``records_views`` (beside this package) the record of a meeting: attendance, minutes,
  outcomes, the series tracker and report, the staff dashboard

A handler loads (404 when the viewer may not see the object) → checks access with the guard
(``@require(...)``/``ensure(...)``, rules in ``permissions.py``) → calls a use case through
``attempt`` → redirects, or re-renders with the errors beside the fields. It never commits: the
request does, once (``portal.core.transaction``).
"""

from portal.consultations.views import agenda, calendars, groups, invitations, meetings
from portal.consultations.views.common import (
    bp,
    get_visible_group_or_404,
    get_visible_meeting_or_404,
)

__all__ = [
    "agenda",
    "bp",
    "calendars",
    "get_visible_group_or_404",
    "get_visible_meeting_or_404",
    "groups",
    "invitations",
    "meetings",
]
