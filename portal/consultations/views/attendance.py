"""The attendance register (the secretariat) and attendees confirming their own presence."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from portal.consultations import records_services as services
from portal.consultations.records_forms import (
    ATTENDANCE_LABELS,
)
from portal.consultations.views.common import (
    bp,
    get_visible_meeting_or_404,
)
from portal.core.forms import ConfirmForm
from portal.core.guard import ensure
from portal.core.services import FORM_ERROR
from portal.core.transaction import attempt


@bp.route("/meetings/<int:meeting_id>/attendance", methods=["GET", "POST"])
def attendance_register(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    ensure("keep_meeting_record", meeting)
    form = ConfirmForm()
    roster = services.attendance_roster(meeting)
    errors: dict[str, str] = {}
    status = 200
    if form.validate_on_submit():
        statuses = {row.user.id: request.form.get(f"status-{row.user.id}", "") for row in roster}
        outcome = attempt(services.record_attendance, current_user, meeting, statuses)
        if outcome:
            flash(
                ngettext(
                    "Attendance register saved (%(num)d change).",
                    "Attendance register saved (%(num)d changes).",
                    outcome.value,
                ),
                "success",
            )
            return redirect(url_for("consultations.meeting", meeting_id=meeting.id))
        roster = services.attendance_roster(meeting)
        errors, status = outcome.field_errors, 400
    elif request.method == "POST":
        errors, status = {FORM_ERROR: _("The form expired; please try again.")}, 400
    submitted = request.form if request.method == "POST" else {}
    return render_template(
        "consultations/records_attendance.html",
        meeting=meeting,
        roster=roster,
        form=form,
        errors=errors,
        submitted=submitted,
        labels=ATTENDANCE_LABELS,
    ), status


@bp.route("/meetings/<int:meeting_id>/attendance/confirm", methods=["POST"])
def confirm_attendance(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = attempt(services.confirm_own_attendance, current_user, meeting)
    if outcome:
        flash(_("Thank you: your presence is recorded."), "success")
    else:
        flash(" ".join(outcome.errors), "error")
    return redirect(url_for("consultations.meeting", meeting_id=meeting_id))
