"""Inviting members to a meeting (staff) and answering an invitation (the invitee)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from portal.consultations import services
from portal.consultations.forms import InviteForm, RsvpForm
from portal.consultations.models import Invitation, Meeting
from portal.consultations.permissions import can_view_meeting
from portal.consultations.views.common import bp, get_meeting_or_404
from portal.consultations.views.meetings import render_meeting
from portal.core.forms import choice_list
from portal.core.guard import require
from portal.core.services import PermissionDenied
from portal.core.transaction import attempt
from portal.extensions import db


def _invite_form(meeting: Meeting) -> InviteForm:
    form = InviteForm()
    form.members.choices = choice_list(
        [
            (m.user_id, m.user.name)
            for m in services.current_members(meeting.group)
            if m.user.is_active
        ]
    )
    return form


def _sent_message(result: services.InviteResult) -> str:
    message = ngettext("%(num)d invitation sent.", "%(num)d invitations sent.", len(result.invited))
    if result.skipped:
        message += " " + ngettext(
            "%(num)d member already invited was skipped.",
            "%(num)d members already invited were skipped.",
            result.skipped,
        )
    return message


@bp.route("/meetings/<int:meeting_id>/invite", methods=["GET", "POST"])
@require("manage_meetings")
def invite(meeting_id: int):
    meeting = get_meeting_or_404(meeting_id)
    form = _invite_form(meeting)
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(
            services.invite,
            current_user,
            meeting,
            whole_group=form.scope.data != "chosen",
            user_ids=form.members.data or [],
            form=form,
        )
        if outcome:
            flash(_sent_message(outcome.value), "success")
            return redirect(
                url_for("consultations.meeting", meeting_id=meeting.id) + "#invitations", 303
            )
        form_errors = outcome.errors
    return render_template(
        "consultations/invite.html",
        meeting=meeting,
        form=form,
        form_errors=form_errors,
        invited={i.user_id: i for i in meeting.invitations},
    ), (400 if form.errors or form_errors else 200)


@bp.route("/invitations/<int:invitation_id>/rsvp", methods=["POST"])
@require("signed_in")
def rsvp(invitation_id: int):
    invitation = db.session.get(Invitation, invitation_id)
    # Someone else's invitation (or one that does not exist): 404, and nothing changes.
    if invitation is None or invitation.user_id != current_user.id:
        abort(404)
    meeting = invitation.meeting
    if not can_view_meeting(current_user, meeting):
        abort(404)
    form = RsvpForm()
    if not form.validate_on_submit():
        return render_meeting(meeting, 400, rsvp_form=form)
    in_person = None
    if form.attendance.data in ("in-person", "online"):
        in_person = form.attendance.data == "in-person"
    try:
        outcome = attempt(
            services.respond,
            current_user,
            invitation,
            form.response.data or "",
            form.comment.data or "",
            in_person,
            form=form,
        )
    except PermissionDenied:
        abort(404)  # not their invitation: as unknown as a missing one
    if not outcome:
        return render_meeting(meeting, 400, rsvp_form=form, rsvp_errors=outcome.errors)
    if outcome.value.waitlisted:
        flash(
            _("Thank you. All in-person seats are taken: you are on the waiting list."), "success"
        )
    else:
        flash(_("Thank you: your answer is saved."), "success")
    return redirect(url_for("consultations.meeting", meeting_id=meeting.id) + "#rsvp", 303)
