"""Scheduling a meeting (staff) and the meeting page everyone who may see the meeting reads:
details, RSVP, agenda with proposals and documents, invitations and seats."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.agreements import documents
from portal.consultations import services
from portal.consultations.forms import AgendaItemForm, DecisionForm, MeetingForm, RsvpForm
from portal.consultations.models import AdvisoryGroup, Meeting
from portal.consultations.permissions import (
    can_manage_meetings,
    can_propose_agenda_item,
    can_rsvp,
    can_view_agenda_item,
    can_view_invitations,
    meeting_has_ended,
)
from portal.consultations.views.common import (
    bp,
    get_meeting_or_404,
    get_visible_meeting_or_404,
    timezone_select_choices,
)
from portal.core.forms import ConfirmForm, choice_list
from portal.core.guard import require
from portal.core.transaction import attempt
from portal.extensions import db


def _meeting_form(meeting: Meeting | None = None) -> MeetingForm:
    if meeting is not None and request.method == "GET":
        form = MeetingForm(obj=meeting, **services.meeting_local_values(meeting))
        form.engagement_areas.data = meeting.area_list
    else:
        form = MeetingForm()
    groups = db.session.scalars(
        select(AdvisoryGroup)
        .where(AdvisoryGroup.archived_at.is_(None))
        .order_by(AdvisoryGroup.name)
    ).all()
    form.group_id.choices = choice_list([(g.id, g.name) for g in groups])
    form.timezone.choices = timezone_select_choices(form.timezone.data)
    if meeting is None and request.method == "GET":
        form.group_id.data = request.args.get("group_id", type=int)
    return form


def _meeting_data(form: MeetingForm) -> services.MeetingData:
    return services.MeetingData(
        title=form.title.data or "",
        group_id=form.group_id.data,
        description=form.description.data or "",
        language=form.language.data or None,
        engagement_areas=list(form.engagement_areas.data or []),
        starts_local=form.starts_local.data,
        ends_local=form.ends_local.data,
        timezone=(form.timezone.data or "").strip(),
        mode=form.mode.data,
        location=form.location.data,
        online_url=form.online_url.data,
        capacity=form.capacity.data,
        agenda_cutoff_local=form.agenda_cutoff_local.data,
        reminder_days=form.reminder_days.data,
        status=form.status.data,
    )


def _edit_meeting(meeting: Meeting | None):
    form = _meeting_form(meeting)
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(
            services.save_meeting, current_user, _meeting_data(form), meeting, form=form
        )
        if outcome:
            flash(_("Meeting saved."), "success")
            return redirect(url_for("consultations.meeting", meeting_id=outcome.value.id), 303)
        form_errors = outcome.errors
    return render_template(
        "consultations/meeting_form.html", form=form, meeting=meeting, form_errors=form_errors
    ), (400 if form.errors or form_errors else 200)


@bp.route("/meetings/new", methods=["GET", "POST"])
@require("manage_meetings")
def new_meeting():
    return _edit_meeting(None)


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@require("manage_meetings")
def edit_meeting(meeting_id: int):
    return _edit_meeting(get_meeting_or_404(meeting_id))


def render_meeting(meeting: Meeting, status: int = 200, **forms):
    """The meeting page; a refused form posted from it comes back here with its errors."""
    invitation = services.own_invitation(current_user, meeting)
    rsvp_form = forms.get("rsvp_form")
    if invitation is not None and rsvp_form is None:
        rsvp_form = RsvpForm(
            response=invitation.response if invitation.response != "pending" else None,
            attendance=None
            if invitation.response == "pending"
            else ("in-person" if invitation.attend_in_person else "online"),
            comment=invitation.comment,
        )
    items = [i for i in meeting.agenda_items if can_view_agenda_item(current_user, i)]
    propose_form = forms.get("propose_form")
    if propose_form is None and can_propose_agenda_item(current_user, meeting):
        propose_form = AgendaItemForm(prefix="propose")
    item_form = forms.get("item_form")
    if item_form is None and can_manage_meetings(current_user):
        item_form = AgendaItemForm(prefix="item")
    show_invitations = can_view_invitations(current_user, meeting)
    return render_template(
        "consultations/meeting.html",
        meeting=meeting,
        viewer_tz=services.viewer_timezone(current_user),
        invitation=invitation,
        can_answer=invitation is not None and can_rsvp(current_user, invitation),
        has_ended=meeting_has_ended(meeting),
        rsvp_form=rsvp_form,
        rsvp_errors=forms.get("rsvp_errors", []),
        agenda_items=items,
        propose_form=propose_form,
        item_form=item_form,
        doc_form=forms.get("doc_form"),
        doc_item_id=forms.get("doc_item_id"),
        doc_errors=forms.get("doc_errors", []),
        show_invitations=show_invitations,
        invitations=meeting.invitations if show_invitations else [],
        seats=services.seat_summary(meeting) if show_invitations else None,
        decision_form=DecisionForm(),
        confirm=ConfirmForm(),
        max_mb=documents.max_document_bytes() // (1024 * 1024) or 1,
    ), status


@bp.route("/meetings/<int:meeting_id>")
def meeting(meeting_id: int):
    return render_meeting(get_visible_meeting_or_404(meeting_id))
