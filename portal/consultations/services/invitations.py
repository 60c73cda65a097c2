"""Invitations, answers (RSVP) and in-person seats with their waiting list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.consultations.models import (
    Invitation,
    Meeting,
    MeetingMode,
    MeetingStatus,
    RsvpResponse,
)
from portal.consultations.permissions import can_manage_meetings, meeting_has_ended
from portal.consultations.services.base import refuse_unless
from portal.consultations.services.groups import current_members
from portal.consultations.services.mail import meeting_mail_context, queue_meeting_mail
from portal.core.audit import record_audit
from portal.core.models import utcnow
from portal.core.services import PermissionDenied, ValidationError, actor_id
from portal.extensions import db


@dataclass
class InviteResult:
    invited: list[Invitation]
    skipped: int  # already invited (whole-group invitations only)


def invite(
    actor, meeting: Meeting, *, whole_group: bool, user_ids: Iterable[int] = ()
) -> InviteResult:
    """Invite the whole group (already-invited people are skipped and counted) or chosen
    members (an already-invited one is an error and nobody is invited). One e-mail each."""
    refuse_unless(can_manage_meetings(actor), _("Only staff may invite people."))
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
