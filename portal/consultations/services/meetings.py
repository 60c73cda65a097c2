"""Scheduling meetings: validation of times in the meeting's own zone, modes and seats; an edit
that moves or changes the meeting bumps its calendar SEQUENCE and tells the invitees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    AdvisoryGroup,
    Meeting,
    MeetingMode,
    MeetingStatus,
)
from portal.consultations.notices import meeting_changed
from portal.consultations.permissions import can_manage_meetings
from portal.consultations.services.base import refuse_unless
from portal.consultations.services.invitations import fill_free_seats
from portal.consultations.timezones import to_utc, valid_timezones, zone
from portal.core.audit import record_audit, snapshot
from portal.core.content_language import check_language
from portal.core.models import as_utc
from portal.core.services import ValidationError, actor_id
from portal.extensions import db

MAX_CAPACITY = 100_000
MAX_REMINDER_DAYS = 60


@dataclass
class MeetingData:
    title: str
    group_id: int | None
    starts_local: datetime | None  # naive wall-clock time in ``timezone``
    ends_local: datetime | None
    timezone: str
    mode: str = MeetingMode.ONLINE.value
    description: str = ""
    engagement_areas: list[str] = field(default_factory=list)
    location: str | None = None
    online_url: str | None = None
    capacity: int | None = None
    agenda_cutoff_local: datetime | None = None
    reminder_days: int | None = 2
    status: str = MeetingStatus.DRAFT.value
    language: str | None = None  # of the title and description; detected when None


def _validate_meeting(data: MeetingData) -> tuple[dict[str, str], dict]:
    """Every rule at once; returns (errors, clean values)."""
    errors: dict[str, str] = {}
    clean: dict = {}
    title = (data.title or "").strip()
    if not title:
        errors["title"] = _("Give the meeting a title.")
    elif len(title) > 300:
        errors["title"] = _("At most %(n)d characters.", n=300)
    clean["title"] = title
    group = db.session.get(AdvisoryGroup, data.group_id) if data.group_id else None
    if group is None or group.archived_at is not None:
        errors["group_id"] = _("Choose an active advisory group.")
    clean["group"] = group
    unknown_areas = [a for a in data.engagement_areas if a not in ENGAGEMENT_AREAS]
    if unknown_areas:
        errors["engagement_areas"] = _("Choose engagement areas from the list.")
    clean["engagement_areas"] = ";".join(a for a in ENGAGEMENT_AREAS if a in data.engagement_areas)

    tz = None
    if not data.timezone:
        errors["timezone"] = _("Choose a time zone.")
    elif data.timezone not in valid_timezones():
        errors["timezone"] = _(
            "“%(tz)s” is not a known time zone. Choose one from the list (e.g. Africa/Nairobi).",
            tz=data.timezone[:64],
        )
    else:
        tz = ZoneInfo(data.timezone)
    clean["timezone"] = data.timezone
    if data.starts_local is None:
        errors["starts_local"] = _("Enter when the meeting starts.")
    if data.ends_local is None:
        errors["ends_local"] = _("Enter when the meeting ends.")
    if tz is not None and data.starts_local and data.ends_local:
        starts, ends = to_utc(data.starts_local, tz), to_utc(data.ends_local, tz)
        if ends <= starts:
            errors["ends_local"] = _("The meeting must end after it starts.")
        clean["starts_at"], clean["ends_at"] = starts, ends
        cutoff = None
        if data.agenda_cutoff_local is not None:
            cutoff = to_utc(data.agenda_cutoff_local, tz)
            if cutoff > starts:
                errors["agenda_cutoff_local"] = _(
                    "Agenda proposals must close before the meeting starts."
                )
        clean["agenda_cutoff_at"] = cutoff

    if data.mode not in {m.value for m in MeetingMode}:
        errors["mode"] = _("Choose how the meeting is held.")
    location = (data.location or "").strip() or None
    online_url = (data.online_url or "").strip() or None
    if data.mode in (MeetingMode.IN_PERSON.value, MeetingMode.HYBRID.value) and not location:
        errors["location"] = _("Enter the place: this meeting is held in person.")
    if data.mode in (MeetingMode.ONLINE.value, MeetingMode.HYBRID.value) and not online_url:
        errors["online_url"] = _("Enter the meeting link: this meeting is held online.")
    elif online_url and not online_url.lower().startswith(("https://", "http://")):
        errors["online_url"] = _("The link must start with https:// (or http://).")
    elif online_url and len(online_url) > 500:
        errors["online_url"] = _("At most %(n)d characters.", n=500)
    if location and len(location) > 300:
        errors["location"] = _("At most %(n)d characters.", n=300)
    clean["mode"] = data.mode
    clean["location"] = location if data.mode != MeetingMode.ONLINE.value else None
    clean["online_url"] = online_url if data.mode != MeetingMode.IN_PERSON.value else None

    if data.capacity is not None and data.capacity < 0:
        errors["capacity"] = _("The number of seats cannot be negative.")
    elif data.capacity is not None and data.capacity > MAX_CAPACITY:
        errors["capacity"] = _("At most %(n)d seats.", n=MAX_CAPACITY)
    clean["capacity"] = data.capacity if data.mode != MeetingMode.ONLINE.value else None
    days = 2 if data.reminder_days is None else data.reminder_days
    if days < 0 or days > MAX_REMINDER_DAYS:
        errors["reminder_days"] = _("Between 0 and %(n)d days.", n=MAX_REMINDER_DAYS)
    clean["reminder_days"] = days
    if data.status not in {s.value for s in MeetingStatus}:
        errors["status"] = _("Choose a status.")
    clean["status"] = data.status
    clean["description"] = (data.description or "").strip()
    clean["language"] = check_language(data.language, errors)
    return errors, clean


# Changes to these make calendar apps update their copy (SEQUENCE is bumped).
_CALENDAR_FIELDS = [
    "title",
    "starts_at",
    "ends_at",
    "timezone",
    "mode",
    "location",
    "online_url",
    "status",
]
_AUDIT_FIELDS = [
    *_CALENDAR_FIELDS,
    "group_id",
    "engagement_areas",
    "capacity",
    "agenda_cutoff_at",
    "reminder_days",
    "description",
]


def save_meeting(actor, data: MeetingData, meeting: Meeting | None = None) -> Meeting:
    """Create (``meeting=None``) or edit a meeting; times are stored in UTC."""
    refuse_unless(can_manage_meetings(actor), _("Only staff may schedule meetings."))
    errors, clean = _validate_meeting(data)
    if errors:
        raise ValidationError(errors)
    creating = meeting is None
    if creating:
        meeting = Meeting(created_by_id=actor_id(actor), sequence=0)
        db.session.add(meeting)
        before = None
    else:
        before = snapshot(meeting, _AUDIT_FIELDS)
        calendar_before = [_norm(getattr(meeting, f)) for f in _CALENDAR_FIELDS]
    group = clean.pop("group")
    meeting.group = group
    meeting.group_id = group.id
    for key, value in clean.items():
        setattr(meeting, key, value)
    if not creating and calendar_before != [_norm(getattr(meeting, f)) for f in _CALENDAR_FIELDS]:
        meeting.sequence = (meeting.sequence or 0) + 1
        if _norm(meeting.starts_at) != calendar_before[1]:
            # A moved meeting needs its reminders again.
            meeting.reminders_sent_at = None
            for invitation in meeting.invitations:
                invitation.reminder_sent_at = None
    db.session.flush()
    if not creating:
        fill_free_seats(meeting)
        if calendar_before != [_norm(getattr(meeting, f)) for f in _CALENDAR_FIELDS]:
            meeting_changed(meeting, actor, moved=_norm(meeting.starts_at) != calendar_before[1])
    record_audit(
        "create" if creating else "update",
        meeting,
        before=before,
        after=snapshot(meeting, _AUDIT_FIELDS) if before is not None else None,
        actor_id=actor_id(actor),
        summary=f"{'Scheduled' if creating else 'Edited'} meeting {meeting.title}",
    )
    return meeting


def _norm(value):
    return as_utc(value) if isinstance(value, datetime) else value


def meeting_local_values(meeting: Meeting) -> dict:
    """Stored UTC times as naive wall-clock times in the meeting's own zone (for the form)."""
    tz = zone(meeting.timezone)

    def local(value):
        return as_utc(value).astimezone(tz).replace(tzinfo=None) if value else None

    return {
        "starts_local": local(meeting.starts_at),
        "ends_local": local(meeting.ends_at),
        "agenda_cutoff_local": local(meeting.agenda_cutoff_at),
    }
