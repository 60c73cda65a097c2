"""Minutes: reading them, editing them with a guard against concurrent saves, their workflow
(circulate, approve, publish, withdraw), and the revision history with diffs."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.consultations import records_permissions as rules
from portal.consultations import records_services as services
from portal.consultations.minutes_render import render_markdown, side_by_side, unified
from portal.consultations.models import (
    Meeting,
    MinutesRevision,
    MinutesStatus,
)
from portal.consultations.records_forms import (
    MinutesForm,
    TransitionForm,
)
from portal.consultations.views.common import (
    bp,
    get_visible_meeting_or_404,
)
from portal.consultations.views.record_panels import visible_outcomes
from portal.core.guard import ensure
from portal.core.transaction import attempt, refuse
from portal.extensions import db


def _transition_label(action: str) -> str:
    return str(services.TRANSITION_LABELS[action])


def _transition_done(action: str) -> str:
    return {
        "circulate": _("Minutes circulated; the group's members have been e-mailed."),
        "approve": _("Minutes approved."),
        "publish": _("Minutes published. They are now locked."),
        "withdraw": _("Minutes returned to draft."),
    }[action]


@bp.route("/meetings/<int:meeting_id>/minutes")
def minutes_view(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    minutes = meeting.minutes
    visible = minutes is not None and rules.can_view_minutes(current_user, minutes, meeting)
    can_edit = rules.can_edit_minutes(current_user, meeting)
    if not visible and not can_edit:
        # The meeting is visible, its minutes are not (yet): say so, show nothing of them.
        return render_template(
            "consultations/records_minutes.html",
            meeting=meeting,
            minutes=None,
            not_published=True,
        ), 404
    return render_template(
        "consultations/records_minutes.html",
        meeting=meeting,
        minutes=minutes if visible else None,
        html=render_markdown(minutes.body) if visible else None,
        attendance=services.attendance_summary(meeting),
        show_attendance=visible or can_edit,
        outcomes=visible_outcomes(meeting),
        can_edit=can_edit and (minutes is None or minutes.status != MinutesStatus.PUBLISHED),
        transitions=services.allowed_transitions(current_user, minutes, meeting),
        can_see_history=can_edit and minutes is not None,
        transition_label=_transition_label,
        transition_form=TransitionForm(),
        not_published=False,
    )


def _conflict_message(current) -> str:
    if current is None:
        return _(
            "Someone else started these minutes while you were writing. Your text has not "
            "been saved: it is in the box below, next to theirs. Merge the two and save again."
        )
    who = current.updated_by_id and db.session.get(User, current.updated_by_id)
    return _(
        "%(who)s saved these minutes (version %(version)d) while you were editing. Your text "
        "has not been saved: it is in the box below, with the current text beside it. Merge "
        "your changes into it and save again.",
        who=who.name if who else _("Someone else"),
        version=current.version,
    )


@bp.route("/meetings/<int:meeting_id>/minutes/edit", methods=["GET", "POST"])
def minutes_edit(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    ensure("edit_minutes", meeting)
    minutes = meeting.minutes
    locked_message = _("These minutes are published and locked; they can no longer be edited.")
    if request.method == "GET":
        if minutes is not None and minutes.status == MinutesStatus.PUBLISHED:
            flash(locked_message, "error")
            return redirect(url_for("consultations.minutes_view", meeting_id=meeting.id))
        form = MinutesForm(
            data={
                "body": minutes.body if minutes else _starter_text(meeting),
                "version": minutes.version if minutes else 0,
                "language": (minutes.language if minutes else None) or "",
            }
        )
        return _render_editor(meeting, form, [], None, 200)

    form = MinutesForm()
    if not form.validate_on_submit() or not (form.version.data or "").isdigit():
        return _render_editor(meeting, form, [_("The form expired; please try again.")], None, 400)
    try:
        outcome = attempt(
            services.save_minutes,
            current_user,
            meeting,
            form.body.data or "",
            int(form.version.data),
            language=form.language.data or None,
            form=form,
        )
    except services.MinutesLocked:
        refuse()
        return _render_editor(meeting, form, [locked_message], None, 409, locked=True)
    except services.MinutesConflict:
        refuse()  # rolled back: the reload below reads what the other editor saved
        current = meeting.minutes
        # Keep the user's text in the box; the next save is checked against the current version.
        form.version.data = str(current.version if current else 0)
        return _render_editor(meeting, form, [_conflict_message(current)], current, 409)
    if not outcome:
        return _render_editor(meeting, form, outcome.errors, None, 400)
    flash(_("Minutes saved."), "success")
    return redirect(url_for("consultations.minutes_view", meeting_id=meeting.id))


def _starter_text(meeting: Meeting) -> str:
    """A first draft that follows the agenda, so the secretariat fills in rather than types."""
    lines = [f"# {meeting.title}", ""]
    for number, item in enumerate(
        (i for i in meeting.agenda_items if i.status == "accepted"), start=1
    ):
        lines += [f"## {number}. {item.title}", "", ""]
    return "\n".join(lines)


def _render_editor(meeting, form, form_errors, current, status, locked=False):
    return render_template(
        "consultations/records_minutes_edit.html",
        meeting=meeting,
        form=form,
        form_errors=form_errors,
        current=current,
        current_html=render_markdown(current.body) if current is not None else None,
        locked=locked,
        attendance=services.attendance_summary(meeting),
    ), status


@bp.route("/meetings/<int:meeting_id>/minutes/<action>", methods=["POST"])
def minutes_transition(meeting_id: int, action: str):
    if action not in services.TRANSITIONS:
        abort(404)
    meeting = get_visible_meeting_or_404(meeting_id)
    form = TransitionForm()
    if not form.validate_on_submit() or not (form.version.data or "").isdigit():
        abort(400)
    try:
        outcome = attempt(
            services.change_minutes_status, current_user, meeting, action, int(form.version.data)
        )
    except services.MinutesLocked:
        refuse()
        flash(_("These minutes are published and locked."), "error")
    except services.MinutesConflict:
        refuse()
        flash(
            _(
                "The minutes changed after you opened this page, so nothing was done. "
                "Check the current version below and try again."
            ),
            "error",
        )
    else:
        if outcome:
            flash(_transition_done(action), "success")
        else:
            flash(" ".join(outcome.errors), "error")
    return redirect(url_for("consultations.minutes_view", meeting_id=meeting_id))


@bp.route("/meetings/<int:meeting_id>/minutes/history")
def minutes_history(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    ensure("edit_minutes", meeting)
    minutes = meeting.minutes
    if minutes is None:
        abort(404)
    revisions = list(
        db.session.scalars(
            select(MinutesRevision)
            .where(MinutesRevision.minutes_id == minutes.id)
            .options(selectinload(MinutesRevision.created_by))
            .order_by(MinutesRevision.version)
        )
    )
    by_version = {r.version: r for r in revisions}
    view = request.args.get("view", "table")
    if view not in ("table", "unified"):
        view = "table"
    error = None
    old = new = None
    if revisions:
        default_new = revisions[-1].version
        default_old = revisions[-2].version if len(revisions) > 1 else default_new
        try:
            a = int(request.args.get("a", default_old))
            b = int(request.args.get("b", default_new))
        except ValueError:
            a, b, error = default_old, default_new, _("Choose revisions from the lists.")
        if a not in by_version or b not in by_version:
            error = _("There is no such revision of these minutes.")
            a, b = default_old, default_new
        old, new = by_version[a], by_version[b]
    rows = side_by_side(old.body, new.body) if old and new and view == "table" else []
    lines = (
        unified(old.body, new.body, f"v{old.version}", f"v{new.version}")
        if old and new and view == "unified"
        else []
    )
    return render_template(
        "consultations/records_minutes_history.html",
        meeting=meeting,
        minutes=minutes,
        revisions=revisions,
        old=old,
        new=new,
        view=view,
        rows=rows,
        lines=lines,
        error=error,
    ), (400 if error else 200)
