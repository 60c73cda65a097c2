"""Use cases for advisory groups, meetings, agendas, invitations and RSVPs.

Each function: check permission → validate (collecting every error) → change → flush → audit.
Nothing here commits; the view or CLI command does, once. A ``ValidationError`` is raised
before anything is changed, so a refused request leaves nothing half-saved.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.agreements import documents
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    AdvisoryGroup,
    AgendaDocument,
    AgendaItem,
    AgendaItemStatus,
    ConsultationPreference,
    GroupMember,
    Invitation,
    Meeting,
    MeetingMode,
    MeetingStatus,
    MemberRole,
    RsvpResponse,
)
from portal.consultations.permissions import (
    can_manage_groups,
    can_manage_meetings,
    can_propose_agenda_item,
    can_view_meeting,
    is_group_member,
    meeting_has_ended,
)
from portal.core.audit import record_audit, snapshot
from portal.core.content_language import check_language
from portal.core.models import as_utc, utcnow
from portal.core.services import PermissionDenied, ValidationError, actor_id
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.services import queue_mail
from portal.partners.models import STAKEHOLDER_GROUPS, Organization

MAX_CAPACITY = 100_000
MAX_REMINDER_DAYS = 60


def _require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise PermissionDenied(message or _("You may not do this."))


def valid_timezones() -> set[str]:
    return available_timezones()


def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo for a stored name; anything unknown falls back to UTC (never raises)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --------------------------------------------------------------------------- links and mail


@contextmanager
def link_context() -> Iterator[None]:
    """Links and translated mail need a request; CLI and worker runs get one addressed to
    BASE_URL (the locale is then each recipient's own, forced per message)."""
    if has_request_context():
        yield
        return
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        yield


def queue_meeting_mail(
    user: User,
    template: str,
    subject: str,
    category: str,
    unsubscribe_url: str | None = None,
    **context,
) -> None:
    """A mail to one invitee with the meeting as an iTIP REQUEST for them (their calendar
    app offers Accept/Decline and keeps the event in step with later updates)."""
    from portal.consultations.ics import itip_attachment

    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        context = {
            "user": user,
            "lang": locale,
            "rtl": locale == "ar",
            "unsubscribe": unsubscribe_url,
            "reader_tz": viewer_timezone(user),  # times also in the recipient's own zone
            **context,
        }
        invitation = context.get("invitation")
        attachments = (
            [itip_attachment(context["meeting"], invitation, "REQUEST")]
            if invitation is not None
            else [meeting_ics_attachment(context["meeting"])]
        )
        queue_mail(
            user.email,
            _subject(subject, context),
            render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
            category=category,
            attachments=attachments,
            unsubscribe_url=unsubscribe_url,
        )


def meeting_ics_attachment(meeting: Meeting) -> tuple[str, str, bytes]:
    """The meeting as an .ics file for the mail: one click adds it to any calendar.

    Exported as the public sees it — no ATTENDEE lines — because a mail can be forwarded.
    """
    from flask_login import AnonymousUserMixin

    from portal.consultations.ics import calendar_for

    content = calendar_for([meeting], AnonymousUserMixin())
    return (f"meeting-{meeting.id}.ics", "text/calendar; method=PUBLISH", content)


def _subject(kind: str, context: dict) -> str:
    meeting: Meeting = context["meeting"]
    if kind == "invitation":
        return _("Invitation: %(title)s", title=meeting.title)
    if kind == "reminder":
        return _("Reminder: %(title)s", title=meeting.title)
    return _("A seat is now available: %(title)s", title=meeting.title)


def meeting_mail_context(meeting: Meeting, user: User) -> dict:
    tz = zone(meeting.timezone)
    return {
        "meeting": meeting,
        "meeting_url": absolute_url("consultations.meeting", meeting_id=meeting.id),
        "ics_url": absolute_url("consultations.meeting_ics", meeting_id=meeting.id),
        "feed_url": absolute_url("consultations.feed", token=feed_token(user)),
        "starts_local": as_utc(meeting.starts_at).astimezone(tz),
        "ends_local": as_utc(meeting.ends_at).astimezone(tz),
        "group": meeting.group,
    }


# --------------------------------------------------------------------------- groups


@dataclass
class GroupData:
    name: str
    description: str = ""
    is_public: bool = True


def _validate_group(data: GroupData, group: AdvisoryGroup | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not name:
        errors["name"] = _("Give the group a name.")
    elif len(name) > 300:
        errors["name"] = _("At most %(n)d characters.", n=300)
    else:
        clash = db.session.scalar(
            select(AdvisoryGroup.id).where(func.lower(AdvisoryGroup.name) == name.lower())
        )
        if clash is not None and (group is None or clash != group.id):
            errors["name"] = _("Another group already has this name.")
    return errors


def create_group(actor, data: GroupData) -> AdvisoryGroup:
    _require(can_manage_groups(actor), _("Only staff may create advisory groups."))
    errors = _validate_group(data, None)
    if errors:
        raise ValidationError(errors)
    group = AdvisoryGroup(
        name=data.name.strip(),
        description=(data.description or "").strip(),
        is_public=data.is_public,
    )
    db.session.add(group)
    db.session.flush()
    record_audit(
        "create", group, summary=f"Created advisory group {group.name}", actor_id=actor_id(actor)
    )
    return group


def update_group(actor, group: AdvisoryGroup, data: GroupData) -> AdvisoryGroup:
    _require(can_manage_groups(actor), _("Only staff may edit advisory groups."))
    errors = _validate_group(data, group)
    if errors:
        raise ValidationError(errors)
    fields = ["name", "description", "is_public"]
    before = snapshot(group, fields)
    group.name = data.name.strip()
    group.description = (data.description or "").strip()
    group.is_public = data.is_public
    db.session.flush()
    record_audit(
        "update",
        group,
        before=before,
        after=snapshot(group, fields),
        actor_id=actor_id(actor),
        summary=f"Edited advisory group {group.name}",
    )
    return group


def archive_group(actor, group: AdvisoryGroup, archived: bool = True) -> None:
    _require(can_manage_groups(actor), _("Only staff may archive advisory groups."))
    group.archived_at = utcnow() if archived else None
    db.session.flush()
    record_audit(
        "archive" if archived else "restore",
        group,
        actor_id=actor_id(actor),
        summary=f"{'Archived' if archived else 'Restored'} advisory group {group.name}",
    )


@dataclass
class MemberData:
    email: str
    role: str = MemberRole.MEMBER.value
    organization_id: int | None = None
    constituency: str | None = None


def add_member(actor, group: AdvisoryGroup, data: MemberData) -> GroupMember:
    _require(can_manage_groups(actor), _("Only staff may change group membership."))
    errors: dict[str, str] = {}
    email = (data.email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if not email:
        errors["email"] = _("Enter the member's e-mail address.")
    elif user is None:
        errors["email"] = _(
            "No user has the address %(email)s. Create their account first.", email=email
        )
    elif not user.is_active:
        errors["email"] = _("This account is deactivated.")
    if data.role not in {r.value for r in MemberRole}:
        errors["role"] = _("Choose a role.")
    if data.constituency and data.constituency not in STAKEHOLDER_GROUPS:
        errors["constituency"] = _("Choose a constituency from the list.")
    if data.organization_id and db.session.get(Organization, data.organization_id) is None:
        errors["organization_id"] = _("Choose an organisation from the list.")
    existing = None
    if user is not None:
        existing = db.session.scalar(
            select(GroupMember).where(
                GroupMember.group_id == group.id, GroupMember.user_id == user.id
            )
        )
        if existing is not None and existing.left_on is None:
            errors["email"] = _("%(name)s is already a member of this group.", name=user.name)
    if errors:
        raise ValidationError(errors)
    if existing is not None:
        # A former member rejoins: one row per (group, user), the history stays on it.
        member = existing
        member.left_on = None
    else:
        member = GroupMember(group=group, user=user)
        db.session.add(member)
    member.role = data.role
    member.organization_id = data.organization_id or None
    member.constituency = data.constituency or None
    member.joined_on = utcnow().date()
    db.session.flush()
    record_audit(
        "add-member",
        group,
        actor_id=actor_id(actor),
        summary=f"{user.email} joined {group.name} as {data.role}",
    )
    return member


def remove_member(actor, member: GroupMember) -> None:
    """Former members keep their row (attendance history refers to them) with ``left_on``."""
    _require(can_manage_groups(actor), _("Only staff may change group membership."))
    member.left_on = utcnow().date()
    db.session.flush()
    record_audit(
        "remove-member",
        member.group,
        actor_id=actor_id(actor),
        summary=f"{member.user.email} left {member.group.name}",
    )


def current_members(group: AdvisoryGroup) -> list[GroupMember]:
    return [m for m in group.members if m.left_on is None]


# --------------------------------------------------------------------------- meetings


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


def _to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))


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
        starts, ends = _to_utc(data.starts_local, tz), _to_utc(data.ends_local, tz)
        if ends <= starts:
            errors["ends_local"] = _("The meeting must end after it starts.")
        clean["starts_at"], clean["ends_at"] = starts, ends
        cutoff = None
        if data.agenda_cutoff_local is not None:
            cutoff = _to_utc(data.agenda_cutoff_local, tz)
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
    _require(can_manage_meetings(actor), _("Only staff may schedule meetings."))
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
            from portal.consultations.notices import meeting_changed

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


# --------------------------------------------------------------------------- agenda


@dataclass
class AgendaItemData:
    title: str
    description: str = ""
    presenter: str | None = None
    duration_minutes: int | None = None


def _validate_item(data: AgendaItemData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (data.title or "").strip():
        errors["title"] = _("Give the item a title.")
    elif len(data.title.strip()) > 300:
        errors["title"] = _("At most %(n)d characters.", n=300)
    if data.presenter and len(data.presenter.strip()) > 200:
        errors["presenter"] = _("At most %(n)d characters.", n=200)
    if data.duration_minutes is not None and not (1 <= data.duration_minutes <= 24 * 60):
        errors["duration_minutes"] = _("Between 1 and 1440 minutes.")
    return errors


def _next_position(meeting: Meeting) -> int:
    top = db.session.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id)
    )
    return (top or 0) + 1


def _new_item(meeting: Meeting, data: AgendaItemData, status: str, proposer) -> AgendaItem:
    item = AgendaItem(
        meeting=meeting,
        position=_next_position(meeting),
        title=data.title.strip(),
        description=(data.description or "").strip(),
        presenter=(data.presenter or "").strip() or None,
        duration_minutes=data.duration_minutes,
        status=status,
        proposed_by_id=actor_id(proposer),
    )
    db.session.add(item)
    db.session.flush()
    return item


def add_agenda_item(actor, meeting: Meeting, data: AgendaItemData) -> AgendaItem:
    _require(can_manage_meetings(actor), _("Only staff may edit the agenda."))
    errors = _validate_item(data)
    if errors:
        raise ValidationError(errors)
    item = _new_item(meeting, data, AgendaItemStatus.ACCEPTED.value, actor)
    record_audit("create", item, actor_id=actor_id(actor), summary=f"Agenda item {item.title}")
    return item


def propose_agenda_item(actor, meeting: Meeting, data: AgendaItemData) -> AgendaItem:
    if not can_propose_agenda_item(actor, meeting):
        if can_view_meeting(actor, meeting) and is_group_member(actor, meeting.group):
            raise ValidationError({"title": _("Agenda proposals for this meeting are closed.")})
        raise PermissionDenied(_("Only group members may propose agenda items."))
    errors = _validate_item(data)
    if errors:
        raise ValidationError(errors)
    item = _new_item(meeting, data, AgendaItemStatus.PROPOSED.value, actor)
    record_audit(
        "propose", item, actor_id=actor_id(actor), summary=f"Proposed agenda item {item.title}"
    )
    return item


def decide_proposal(actor, item: AgendaItem, accept: bool, note: str = "") -> AgendaItem:
    _require(can_manage_meetings(actor), _("Only staff may accept or decline proposals."))
    note = (note or "").strip()
    if not accept and not note:
        raise ValidationError(
            {"note": _("Say why the proposal is declined; the member will see it.")}
        )
    item.status = AgendaItemStatus.ACCEPTED.value if accept else AgendaItemStatus.DECLINED.value
    item.decision_note = note or None
    db.session.flush()
    record_audit(
        "accept" if accept else "decline",
        item,
        actor_id=actor_id(actor),
        summary=f"{'Accepted' if accept else 'Declined'} agenda proposal {item.title}",
    )
    return item


def move_agenda_item(actor, item: AgendaItem, direction: str) -> None:
    """Swap with the neighbouring item; positions are renumbered 1..n so gaps never confuse it."""
    _require(can_manage_meetings(actor), _("Only staff may edit the agenda."))
    items = sorted(item.meeting.agenda_items, key=lambda i: (i.position, i.id))
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    for position, each in enumerate(items, start=1):
        each.position = position
    db.session.flush()


def remove_agenda_item(actor, item: AgendaItem) -> list[str]:
    """Delete an item; returns the stored file names to remove once the commit succeeds."""
    _require(can_manage_meetings(actor), _("Only staff may edit the agenda."))
    stored = [d.stored_name for d in item.documents]
    record_audit(
        "delete", item, actor_id=actor_id(actor), summary=f"Removed agenda item {item.title}"
    )
    db.session.delete(item)
    db.session.flush()
    return stored


def can_attach_to_item(actor, item: AgendaItem) -> bool:
    """Staff, or the member who proposed the item while proposals are still open."""
    if can_manage_meetings(actor):
        return True
    return (
        getattr(actor, "is_authenticated", False)
        and item.proposed_by_id == actor.id
        and item.status == AgendaItemStatus.PROPOSED.value
        and can_propose_agenda_item(actor, item.meeting)
    )


def attach_agenda_document(
    actor, item: AgendaItem, title: str, stream: BinaryIO, filename: str | None
) -> AgendaDocument:
    """Same checks and storage as agreement documents (portal/agreements/documents.py)."""
    _require(can_attach_to_item(actor, item), _("You may not attach documents to this item."))
    title = (title or "").strip() or documents.display_filename(filename)
    errors: dict[str, str] = {}
    if len(title) > 300:
        errors["title"] = _("At most %(n)d characters.", n=300)
    doc = documents.store_upload(
        stream,
        filename,
        errors=errors,
        build_row=lambda checked, stored_name: AgendaDocument(
            agenda_item=item,
            title=title,
            filename=checked.display_name,
            stored_name=stored_name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by_id=actor_id(actor),
        ),
    )
    record_audit(
        "upload", doc, actor_id=actor_id(actor), summary=f"Attached {doc.filename} to {item.title}"
    )
    return doc


# --------------------------------------------------------------------------- invitations


@dataclass
class InviteResult:
    invited: list[Invitation]
    skipped: int  # already invited (whole-group invitations only)


def invite(
    actor, meeting: Meeting, *, whole_group: bool, user_ids: Iterable[int] = ()
) -> InviteResult:
    """Invite the whole group (already-invited people are skipped and counted) or chosen
    members (an already-invited one is an error and nobody is invited). One e-mail each."""
    _require(can_manage_meetings(actor), _("Only staff may invite people."))
    if meeting.status != MeetingStatus.SCHEDULED.value:
        raise ValidationError(
            {
                "_form": _(
                    "Only a scheduled meeting can have invitations: "
                    "set its status to Scheduled first."
                )
            }
        )
    if meeting_has_ended(meeting):
        raise ValidationError({"_form": _("This meeting has already ended.")})
    members = {m.user_id: m for m in current_members(meeting.group) if m.user.is_active}
    already = set(
        db.session.scalars(select(Invitation.user_id).where(Invitation.meeting_id == meeting.id))
    )
    if whole_group:
        targets = [uid for uid in members if uid not in already]
        skipped = len([uid for uid in members if uid in already])
    else:
        chosen = list(dict.fromkeys(int(u) for u in user_ids))
        if not chosen:
            raise ValidationError({"members": _("Choose at least one member to invite.")})
        strangers = [uid for uid in chosen if uid not in members]
        if strangers:
            raise ValidationError(
                {"members": _("Only current members of the group can be invited.")}
            )
        dupes = [members[uid].user.name for uid in chosen if uid in already]
        if dupes:
            raise ValidationError(
                {
                    "members": _(
                        "Already invited to this meeting: %(names)s.", names=", ".join(dupes)
                    )
                }
            )
        targets, skipped = chosen, 0
    created: list[Invitation] = []
    for uid in targets:
        invitation = Invitation(meeting=meeting, user_id=uid, invited_by_id=actor_id(actor))
        db.session.add(invitation)
        created.append(invitation)
    db.session.flush()
    for invitation in created:
        user = members[invitation.user_id].user
        queue_meeting_mail(
            user,
            "meeting_invitation",
            "invitation",
            "meeting-invitation",
            invitation=invitation,
            **meeting_mail_context(meeting, user),
        )
    if created:
        record_audit(
            "invite",
            meeting,
            actor_id=actor_id(actor),
            summary=f"Invited {len(created)} to {meeting.title} (skipped {skipped})",
        )
    return InviteResult(created, skipped)


# --------------------------------------------------------------------------- RSVP


def own_invitation(user, meeting: Meeting) -> Invitation | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Invitation).where(Invitation.meeting_id == meeting.id, Invitation.user_id == user.id)
    )


def _seated_count(meeting: Meeting, exclude_id: int | None = None) -> int:
    stmt = select(func.count(Invitation.id)).where(
        Invitation.meeting_id == meeting.id,
        Invitation.response == RsvpResponse.ACCEPTED.value,
        Invitation.attend_in_person.is_(True),
        Invitation.waitlisted.is_(False),
    )
    if exclude_id is not None:
        stmt = stmt.where(Invitation.id != exclude_id)
    return db.session.scalar(stmt) or 0


def seat_summary(meeting: Meeting) -> dict:
    waiting = sum(1 for i in meeting.invitations if i.waitlisted)
    return {"seated": _seated_count(meeting), "capacity": meeting.capacity, "waiting": waiting}


def respond(
    actor, invitation: Invitation, response: str, comment: str = "", in_person: bool | None = None
) -> Invitation:
    """The invitee answers. Acceptances in person beyond capacity join the waiting list; a
    freed seat goes to the first person waiting (in order of their answer)."""
    if not getattr(actor, "is_authenticated", False) or invitation.user_id != actor.id:
        raise PermissionDenied(_("You can only answer your own invitation."))
    meeting = invitation.meeting
    errors: dict[str, str] = {}
    if meeting_has_ended(meeting):
        errors["response"] = _("This meeting has ended: answers are closed.")
    elif meeting.status == MeetingStatus.CANCELLED.value:
        errors["response"] = _("This meeting has been cancelled.")
    elif meeting.status != MeetingStatus.SCHEDULED.value:
        errors["response"] = _("Answers are not open for this meeting.")
    valid = {RsvpResponse.ACCEPTED.value, RsvpResponse.DECLINED.value, RsvpResponse.TENTATIVE.value}
    if "response" not in errors and response not in valid:
        errors["response"] = _("Choose Accept, Tentative or Decline.")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        errors["comment"] = _("At most %(n)d characters.", n=2000)
    if (
        meeting.mode == MeetingMode.HYBRID.value
        and response in (RsvpResponse.ACCEPTED.value, RsvpResponse.TENTATIVE.value)
        and in_person is None
        and "response" not in errors
    ):
        errors["attendance"] = _("Say whether you will attend in person or online.")
    if errors:
        raise ValidationError(errors)

    if meeting.mode == MeetingMode.IN_PERSON.value:
        in_person = True
    elif meeting.mode == MeetingMode.ONLINE.value:
        in_person = False
    was_seated = (
        invitation.response == RsvpResponse.ACCEPTED.value
        and invitation.attend_in_person
        and not invitation.waitlisted
    )
    invitation.response = response
    invitation.comment = comment or None
    invitation.attend_in_person = bool(in_person) and response != RsvpResponse.DECLINED.value
    invitation.responded_at = utcnow()
    wants_seat = response == RsvpResponse.ACCEPTED.value and invitation.attend_in_person
    if wants_seat and was_seated:
        invitation.waitlisted = False  # keeps the seat they already had
    elif wants_seat and meeting.capacity is not None:
        invitation.waitlisted = _seated_count(meeting, exclude_id=invitation.id) >= meeting.capacity
    else:
        invitation.waitlisted = False
    db.session.flush()
    if was_seated and not (wants_seat and not invitation.waitlisted):
        fill_free_seats(meeting)
    record_audit(
        "rsvp",
        invitation,
        actor_id=actor_id(actor),
        summary=f"{response}{' (waitlisted)' if invitation.waitlisted else ''}: {meeting.title}",
    )
    return invitation


def fill_free_seats(meeting: Meeting) -> list[Invitation]:
    """Promote people from the waiting list while in-person seats are free."""
    if meeting.capacity is None:
        waiting = [i for i in meeting.invitations if i.waitlisted]
    else:
        free = meeting.capacity - _seated_count(meeting)
        waiting = (
            []
            if free <= 0
            else db.session.scalars(
                select(Invitation)
                .where(Invitation.meeting_id == meeting.id, Invitation.waitlisted.is_(True))
                .order_by(Invitation.responded_at, Invitation.id)
                .limit(free)
            ).all()
        )
    for invitation in waiting:
        invitation.waitlisted = False
    db.session.flush()
    for invitation in waiting:
        queue_meeting_mail(
            invitation.user,
            "meeting_seat",
            "seat",
            "meeting-seat",
            invitation=invitation,
            **meeting_mail_context(meeting, invitation.user),
        )
    return list(waiting)


# --------------------------------------------------------------------------- preferences and feed


def preference_for(user, create: bool = False) -> ConsultationPreference | None:
    pref = db.session.get(ConsultationPreference, user.id)
    if pref is None and create:
        pref = ConsultationPreference(user_id=user.id, feed_key=secrets.token_hex(16))
        db.session.add(pref)
        db.session.flush()
    return pref


def viewer_timezone(user) -> str:
    if not getattr(user, "is_authenticated", False):
        return "UTC"
    pref = preference_for(user)
    return pref.timezone if pref and pref.timezone else "UTC"


def set_viewer_timezone(user, name: str) -> None:
    name = (name or "").strip()
    if name and name not in valid_timezones():
        raise ValidationError({"timezone": _("“%(tz)s” is not a known time zone.", tz=name[:64])})
    preference_for(user, create=True).timezone = name or None
    db.session.flush()


def _feed_serializer():
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="consultations-feed")


def feed_token(user) -> str:
    """A signed, non-expiring token naming the user and their current feed key, so calendar
    apps can fetch the feed without a session. Rotating the key revokes it."""
    pref = preference_for(user, create=True)
    return _feed_serializer().dumps({"u": user.id, "k": pref.feed_key})


def user_from_feed_token(token: str) -> User | None:
    from itsdangerous import BadSignature

    try:
        payload = _feed_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user = db.session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    if user is None or not user.is_active:
        return None
    pref = preference_for(user)
    if pref is None or not secrets.compare_digest(pref.feed_key, str(payload.get("k", ""))):
        return None
    return user


def rotate_feed_key(user) -> None:
    pref = preference_for(user, create=True)
    pref.feed_key = secrets.token_hex(16)
    pref.feed_key_rotated_at = utcnow()
    db.session.flush()
    record_audit(
        "rotate-feed",
        "consultation_preference",
        actor_id=user.id,
        summary="Calendar feed link reset",
    )


def feed_meetings(user) -> list[Meeting]:
    """Every meeting the user is invited to and may still see (drafts and lost access drop out)."""
    meetings = db.session.scalars(
        select(Meeting)
        .join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(Invitation.user_id == user.id)
        .order_by(Meeting.starts_at)
    ).all()
    return [m for m in meetings if can_view_meeting(user, m)]
