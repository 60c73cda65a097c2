"""Use cases for advisory groups, meetings, agendas, invitations and RSVPs, by sub-domain:

- ``groups``       advisory groups and their members
- ``meetings``     scheduling and editing meetings (times, mode, seats, calendar SEQUENCE)
- ``agenda``       agenda items, members' proposals and their documents
- ``invitations``  invitations, answers (RSVP), seats and the waiting list
- ``preferences``  a viewer's time zone and personal calendar feed
- ``mail``         the meeting e-mails (invitation, reminder, freed seat) with iCalendar

Each function: check permission (``permissions.py``) → validate (collecting every error) →
change → flush → audit. Nothing here commits: the request commits once after a successful
POST (``portal.core.transaction``), a CLI command or worker job through ``committing()``. A
``ValidationError`` is raised before anything is changed, so a refused request leaves nothing
half-saved. The record of a meeting is here too — ``attendance``, ``minutes`` (versions and
workflow), ``outcomes`` (and progress notes) — exported together by ``records_services``.

Callers may import every public name from this package, as before the split.
"""

from portal.consultations.permissions import can_attach_to_item
from portal.consultations.services.agenda import (
    AgendaItemData,
    add_agenda_item,
    attach_agenda_document,
    decide_proposal,
    move_agenda_item,
    propose_agenda_item,
    remove_agenda_item,
)
from portal.consultations.services.groups import (
    GroupData,
    MemberData,
    add_member,
    archive_group,
    create_group,
    current_members,
    remove_member,
    update_group,
)
from portal.consultations.services.invitations import (
    InviteResult,
    fill_free_seats,
    invite,
    own_invitation,
    respond,
    seat_summary,
)
from portal.consultations.services.mail import (
    link_context,
    meeting_ics_attachment,
    meeting_mail_context,
    queue_meeting_mail,
)
from portal.consultations.services.meetings import (
    MAX_CAPACITY,
    MAX_REMINDER_DAYS,
    MeetingData,
    meeting_local_values,
    save_meeting,
)
from portal.consultations.services.preferences import (
    current_feed_key,
    feed_meetings,
    feed_token,
    initial_feed_key,
    preference_for,
    rotate_feed_key,
    set_viewer_timezone,
    user_from_feed_token,
    viewer_timezone,
)
from portal.consultations.timezones import valid_timezones, zone

__all__ = [
    "MAX_CAPACITY",
    "MAX_REMINDER_DAYS",
    "AgendaItemData",
    "GroupData",
    "InviteResult",
    "MeetingData",
    "MemberData",
    "add_agenda_item",
    "add_member",
    "archive_group",
    "attach_agenda_document",
    "can_attach_to_item",
    "create_group",
    "current_feed_key",
    "current_members",
    "decide_proposal",
    "feed_meetings",
    "feed_token",
    "fill_free_seats",
    "initial_feed_key",
    "invite",
    "link_context",
    "meeting_ics_attachment",
    "meeting_local_values",
    "meeting_mail_context",
    "move_agenda_item",
    "own_invitation",
    "preference_for",
    "propose_agenda_item",
    "queue_meeting_mail",
    "remove_agenda_item",
    "remove_member",
    "respond",
    "rotate_feed_key",
    "save_meeting",
    "seat_summary",
    "set_viewer_timezone",
    "update_group",
    "user_from_feed_token",
    "valid_timezones",
    "viewer_timezone",
    "zone",
]
