"""Minutes: saved with a guard against concurrent edits (versions and revisions), and their
workflow — circulate (the members are e-mailed), approve, publish (final), withdraw."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal.consultations import records_permissions as rules
from portal.consultations.models import (
    GroupMember,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesRevision,
    MinutesStatus,
)
from portal.consultations.services.base import refuse_unless
from portal.core.audit import record_audit
from portal.core.content_language import check_language
from portal.core.models import utcnow
from portal.core.services import (
    FORM_ERROR,
    ServiceError,
    ValidationError,
    actor_id,
)
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.services import queue_mail

MINUTES_STATUS_LABELS = {
    MinutesStatus.DRAFT.value: _l("Draft"),
    MinutesStatus.CIRCULATED.value: _l("Circulated for approval"),
    MinutesStatus.APPROVED.value: _l("Approved"),
    MinutesStatus.PUBLISHED.value: _l("Published"),
}
TRANSITION_LABELS = {
    "circulate": _l("Circulate for approval"),
    "approve": _l("Record approval"),
    "publish": _l("Publish minutes"),
    "withdraw": _l("Return to draft"),
}

MAX_MINUTES_CHARS = 200_000


class MinutesLocked(ServiceError):
    """Published minutes are final."""


class MinutesConflict(ServiceError):
    """Someone saved the minutes after this editor opened them; nothing was written."""


def _add_revision(minutes: Minutes, actor) -> MinutesRevision:
    revision = MinutesRevision(
        minutes=minutes,
        version=minutes.version,
        body=minutes.body,
        status=minutes.status,
        created_by_id=actor_id(actor),
    )
    db.session.add(revision)
    return revision


def _flush_or_conflict() -> None:
    """A concurrent save that slipped past the version check still loses here (UPDATE … WHERE
    version = n matches no row, or the unique meeting_id refuses a second first draft)."""
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError) as err:
        raise MinutesConflict() from err


def save_minutes(
    actor, meeting: Meeting, body: str, base_version: int, language: str | None = None
) -> Minutes:
    """Save the text; refused if published or if it changed since ``base_version`` (0 = new).

    ``language``: the text's language as chosen on the form; None detects it from the text.
    Editing approved minutes withdraws the approval (it applied to the old text).
    """
    refuse_unless(rules.can_edit_minutes(actor, meeting))
    minutes = meeting.minutes
    if minutes is not None and minutes.status == MinutesStatus.PUBLISHED:
        raise MinutesLocked()
    if (minutes.version if minutes is not None else 0) != base_version:
        raise MinutesConflict()
    body = (body or "").replace("\r\n", "\n")
    if len(body) > MAX_MINUTES_CHARS:
        raise ValidationError(
            {"body": _("Minutes are limited to %(n)d characters.", n=MAX_MINUTES_CHARS)}
        )
    if meeting.status not in (MeetingStatus.SCHEDULED, MeetingStatus.HELD):
        raise ValidationError(
            {FORM_ERROR: _("Minutes can only be kept for a scheduled or held meeting.")}
        )
    errors: dict[str, str] = {}
    language = check_language(language, errors)
    if errors:
        raise ValidationError(errors)
    if minutes is None:
        minutes = Minutes(
            meeting=meeting,
            body=body,
            language=language,
            status=MinutesStatus.DRAFT.value,
            updated_by_id=actor_id(actor),
        )
        db.session.add(minutes)
        action = "create"
    else:
        if minutes.body == body:
            if language and language != minutes.language:
                minutes.language = language  # only the language: no new text version
                db.session.flush()
            return minutes  # the text did not change: no new version, no revision
        minutes.body = body
        # The chosen language, or (None) detected again from the new text when flushed.
        minutes.language = language
        minutes.updated_by_id = actor_id(actor)
        if minutes.status == MinutesStatus.APPROVED:
            minutes.status = MinutesStatus.DRAFT.value
            minutes.approved_at = None
            minutes.approved_by_id = None
        action = "update"
    _flush_or_conflict()
    _add_revision(minutes, actor)
    db.session.flush()
    record_audit(
        action,
        minutes,
        summary=f"Minutes of {meeting.title!r} saved (v{minutes.version})",
        actor_id=actor_id(actor),
    )
    return minutes


_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "circulate": ((MinutesStatus.DRAFT,), MinutesStatus.CIRCULATED),
    "approve": ((MinutesStatus.CIRCULATED,), MinutesStatus.APPROVED),
    "publish": ((MinutesStatus.APPROVED,), MinutesStatus.PUBLISHED),
    "withdraw": ((MinutesStatus.CIRCULATED, MinutesStatus.APPROVED), MinutesStatus.DRAFT),
}
TRANSITIONS = tuple(_TRANSITIONS)


def _may(action: str, actor, meeting: Meeting) -> bool:
    if action == "publish":
        return rules.can_publish_minutes(actor, meeting)
    if action == "approve":
        return rules.can_approve_minutes(actor, meeting)
    return rules.can_edit_minutes(actor, meeting)


def allowed_transitions(actor, minutes: Minutes | None, meeting: Meeting) -> list[str]:
    if minutes is None:
        return []
    return [
        action
        for action, (sources, _target) in _TRANSITIONS.items()
        if minutes.status in sources and _may(action, actor, meeting)
    ]


def change_minutes_status(actor, meeting: Meeting, action: str, base_version: int) -> Minutes:
    """circulate (mails the members) → approve → publish (locks); withdraw returns to draft."""
    if action not in _TRANSITIONS:
        raise ValidationError({FORM_ERROR: _("Unknown action.")})
    minutes = meeting.minutes
    if minutes is None:
        raise ValidationError({FORM_ERROR: _("There are no minutes yet.")})
    refuse_unless(_may(action, actor, meeting))
    if minutes.status == MinutesStatus.PUBLISHED:
        raise MinutesLocked()
    if minutes.version != base_version:
        raise MinutesConflict()
    sources, target = _TRANSITIONS[action]
    if minutes.status not in sources:
        raise ValidationError(
            {
                FORM_ERROR: _(
                    "“%(action)s” is not possible: the minutes are “%(status)s”.",
                    status=MINUTES_STATUS_LABELS.get(minutes.status, minutes.status),
                    action=TRANSITION_LABELS[action],
                )
            }
        )
    if action == "circulate" and not minutes.body.strip():
        raise ValidationError({FORM_ERROR: _("Write the minutes before circulating them.")})
    before = minutes.status
    minutes.status = str(target)
    minutes.updated_by_id = actor_id(actor)
    now = utcnow()
    if target == MinutesStatus.APPROVED:
        minutes.approved_by_id = actor_id(actor)
        minutes.approved_at = now
    elif target == MinutesStatus.PUBLISHED:
        minutes.published_at = now
    elif target == MinutesStatus.DRAFT:
        minutes.approved_by_id = None
        minutes.approved_at = None
    _flush_or_conflict()
    _add_revision(minutes, actor)
    db.session.flush()
    record_audit(
        action,
        minutes,
        summary=f"Minutes of {meeting.title!r}: {before} → {target}",
        before={"status": before},
        after={"status": str(target)},
        actor_id=actor_id(actor),
    )
    if action == "circulate":
        _mail_circulated(meeting, actor)
    elif target == MinutesStatus.PUBLISHED:
        from portal.consultations.notices import minutes_published

        minutes_published(meeting, actor)
    return minutes


def _mail_circulated(meeting: Meeting, actor) -> int:
    """Ask every current member of the group (except the sender) to read and approve."""
    link = absolute_url("consultations.minutes_view", meeting_id=meeting.id)
    members = db.session.scalars(
        select(GroupMember).where(
            GroupMember.group_id == meeting.group_id, rules.active_membership_clause()
        )
    ).all()
    sent = 0
    sender_id = actor_id(actor)
    for member in members:
        user = member.user
        if not user.active or user.id == sender_id:
            continue
        locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(locale):
            context = {
                "user": user,
                "meeting": meeting,
                "link": link,
                "lang": locale,
                "rtl": locale == "ar",
            }
            queue_mail(
                user.email,
                _("Draft minutes for approval: %(title)s", title=meeting.title),
                render_template("mail/minutes_circulated.txt", **context),
                html=render_template("mail/minutes_circulated.html", **context),
                category="minutes-circulated",
            )
        sent += 1
    return sent
