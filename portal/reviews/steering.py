"""Steering a round after it opened (issue 11 item 3): add reviewers, move the deadline, close
early, reopen for a fixed time.

Use cases in the house order — check permission → validate → change → flush → audit → mail —
and none commits: the request does, once. Reviewers are told by e-mail through the mail outbox
(``queue_mail``) in their own language, with their personal link; those who chose "no more
e-mail about this review round" are not written to. New reviewers get the ordinary invitation
from the invitation job, which invites whoever in the round's audience is not invited yet.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from portal.accounts.models import User
from portal.core.audit import record_audit
from portal.core.models import as_utc, utcnow
from portal.core.services import ValidationError, actor_id
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.reviews import permissions
from portal.reviews.audience import combine_audiences, validate_audience
from portal.reviews.models import BackgroundJob, ReviewInvitation, ReviewRound, RoundStatus
from portal.reviews.services import (
    _aware,
    _queue_review_mail,
    _require_staff,
    close_round,
    format_round_time,
    queue_invitation_job,
)
from portal.reviews.times import reader_timezones

__all__ = ["add_reviewers", "change_deadline", "close_early", "reopen_round"]

DEADLINE_MOVED = "deadline"
REOPENED = "reopened"


def _zone(round_: ReviewRound) -> ZoneInfo:
    try:
        return ZoneInfo(round_.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _new_closing_time(round_: ReviewRound, closes_at: datetime | None) -> datetime:
    """A naive time is wall-clock time in the round's zone. Must be in the future and after
    the round opens."""
    if closes_at is None:
        raise ValidationError({"closes_at": _("When does the round close?")})
    closes_at = _aware(closes_at, _zone(round_))
    if closes_at <= utcnow():
        raise ValidationError({"closes_at": _("The closing time is in the past.")})
    if closes_at <= as_utc(round_.opens_at):
        raise ValidationError({"closes_at": _("The round must close after it opens.")})
    return closes_at


def _tell_invitees(round_: ReviewRound, change: str) -> int:
    """One e-mail per invitee (not unsubscribed, account active or none yet) saying what
    changed, in their language, with their personal link. Returns how many were queued."""
    from portal.reviews.jobs import invitation_token

    rows = db.session.execute(
        select(
            ReviewInvitation.email,
            User.name,
            User.locale,
            User.active,
            ReviewInvitation.user_id,
        )
        .outerjoin(User, User.id == ReviewInvitation.user_id)
        .where(
            ReviewInvitation.round_id == round_.id,
            ReviewInvitation.unsubscribed_at.is_(None),
        )
        .order_by(ReviewInvitation.id)
    ).all()
    document = round_.version.document
    zones = reader_timezones(row.user_id for row in rows)
    queued = 0
    for email, name, locale, active, user_id in rows:
        if active is False:
            continue
        token = invitation_token(round_.id, email)
        # The new deadline in the invitee's own zone and words (not the staff member's).
        with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            deadline = format_round_time(round_, round_.closes_at, zones.get(user_id))
        _queue_review_mail(
            email,
            locale,
            "review_round_changed",
            lambda: _("Review round changed: %(title)s", title=document.title),
            category=f"review-{change}:{round_.id}",
            change=change,
            name=name,
            round=round_,
            document=document,
            link=absolute_url("reviews.follow_invitation", token=token),
            unsubscribe=absolute_url("reviews.unsubscribe", token=token),
            deadline=deadline,
        )
        queued += 1
    return queued


def add_reviewers(round_: ReviewRound, parts: list[dict], actor) -> BackgroundJob:
    """Invite more people to an opened round that has not closed: ``parts`` are audiences
    (``{"kind": "groups", "audience": {...}}``, organisations, an address list — any mix).
    Those already invited are not invited twice."""
    _require_staff(actor)
    state = permissions.round_state(round_)
    if state is permissions.RoundState.DRAFT:
        raise ValidationError({"_form": _("Open the round before adding reviewers.")})
    if state is permissions.RoundState.CLOSED:
        raise ValidationError(
            {"_form": _("The round is closed. Reopen it before adding reviewers.")}
        )
    if not parts:
        raise ValidationError(
            {"_form": _("Choose advisory groups, organisations or a list of addresses.")}
        )
    checked = validate_audience("mixed", {"parts": parts})["parts"]
    before = {"audience_kind": round_.audience_kind}
    round_.audience_kind, round_.audience = combine_audiences(
        round_.audience_kind, round_.audience, checked
    )
    db.session.flush()
    job = queue_invitation_job(round_, actor)
    record_audit(
        "add-reviewers",
        round_,
        summary=f"Reviewers added to review round “{round_.title}” "
        f"({', '.join(p['kind'] for p in checked)})",
        before=before,
        after={"audience_kind": round_.audience_kind, "added": [_summary(p) for p in checked]},
        actor_id=actor_id(actor),
    )
    return job


def _summary(part: dict) -> dict:
    """What the audit log keeps of an added audience: the choices, and for an address list
    how many (the addresses themselves are in the invitations)."""
    audience = dict(part["audience"])
    if "emails" in audience:
        audience["emails"] = len(audience["emails"])
    return {"kind": part["kind"], **audience}


def change_deadline(round_: ReviewRound, closes_at: datetime | None, actor) -> ReviewRound:
    """Extend or shorten an open (or not yet open) round's deadline; invitees are told.
    Extending it lets reviewers be reminded again before the new deadline."""
    _require_staff(actor)
    state = permissions.round_state(round_)
    if state is permissions.RoundState.CLOSED:
        raise ValidationError({"_form": _("The round is closed. Reopen it to set a new deadline.")})
    if state is permissions.RoundState.DRAFT:
        raise ValidationError({"_form": _("This review round has not been opened.")})
    new = _new_closing_time(round_, closes_at)
    old = as_utc(round_.closes_at)
    if new == old:
        raise ValidationError({"closes_at": _("That is already the deadline.")})
    round_.closes_at = new
    if new > old:
        db.session.execute(
            update(ReviewInvitation)
            .where(ReviewInvitation.round_id == round_.id)
            .values(reminded_at=None)
        )
    db.session.flush()
    record_audit(
        "change-deadline",
        round_,
        summary=f"Deadline of review round “{round_.title}” "
        f"{'extended' if new > old else 'brought forward'} to {new.isoformat()}",
        before={"closes_at": old.isoformat()},
        after={"closes_at": new.isoformat()},
        actor_id=actor_id(actor),
    )
    _tell_invitees(round_, DEADLINE_MOVED)
    return round_


def close_early(round_: ReviewRound, actor) -> ReviewRound:
    """Close an open round now; invitees are told (``notices.round_closed_early``)."""
    _require_staff(actor)
    state = permissions.round_state(round_)
    if state is permissions.RoundState.CLOSED:
        raise ValidationError({"_form": _("The round is already closed.")})
    if state is permissions.RoundState.DRAFT:
        raise ValidationError({"_form": _("This review round has not been opened.")})
    return close_round(round_, actor)


def reopen_round(round_: ReviewRound, closes_at: datetime | None, actor) -> ReviewRound:
    """Open a closed round again until ``closes_at``; invitees are told."""
    _require_staff(actor)
    if permissions.round_state(round_) is not permissions.RoundState.CLOSED:
        raise ValidationError({"_form": _("Only a closed round can be reopened.")})
    new = _new_closing_time(round_, closes_at)
    before = {"status": round_.status, "closes_at": as_utc(round_.closes_at).isoformat()}
    round_.status = RoundStatus.OPEN.value
    round_.closes_at = new
    db.session.execute(
        update(ReviewInvitation)
        .where(ReviewInvitation.round_id == round_.id)
        .values(reminded_at=None)
    )
    db.session.flush()
    record_audit(
        "reopen",
        round_,
        summary=f"Review round “{round_.title}” reopened until {new.isoformat()}",
        before=before,
        after={"status": round_.status, "closes_at": new.isoformat()},
        actor_id=actor_id(actor),
    )
    _tell_invitees(round_, REOPENED)
    return round_


def deadline_in_zone(round_: ReviewRound) -> datetime:
    """The round's deadline as naive wall-clock time in its zone (to prefill a form)."""
    return as_utc(round_.closes_at).astimezone(_zone(round_)).replace(tzinfo=None)


def describe_deadline(round_: ReviewRound) -> str:
    return format_round_time(round_, round_.closes_at)
