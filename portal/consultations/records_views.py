"""Pages for the record of a meeting: attendance register, minutes (edit, workflow, history and
diff), outcomes with progress notes, the series tracker and report, and the staff dashboard.

Routes attach to the consultations blueprint (views/). Each handler: load (404 when the
viewer may not see the meeting or group) → check access with the guard (``ensure``/``require``,
rules in records_permissions.py) → call a use case through ``attempt``. Nothing here commits:
the request does, once, and a refused use case (``attempt``/``refuse``) is rolled back.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.consultations import dashboard as figures
from portal.consultations import records_permissions as rules
from portal.consultations import records_services as services
from portal.consultations.forms import ROLE_LABELS, RSVP_LABELS
from portal.consultations.minutes_render import render_markdown, side_by_side, unified
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    AdvisoryGroup,
    Meeting,
    MinutesRevision,
    MinutesStatus,
    Outcome,
    OutcomeKind,
    OutcomeStatus,
)
from portal.consultations.records_forms import (
    ATTENDANCE_LABELS,
    OUTCOME_KIND_LABELS,
    OUTCOME_STATUS_LABELS,
    MinutesForm,
    OutcomeForm,
    ProgressNoteForm,
    TransitionForm,
)
from portal.consultations.series_report import build_docx, compile_report, parse_period
from portal.consultations.views import bp, get_visible_group_or_404, get_visible_meeting_or_404
from portal.core.forms import ConfirmForm
from portal.core.guard import ensure, require
from portal.core.models import utcnow
from portal.core.services import FORM_ERROR
from portal.core.transaction import attempt, refuse
from portal.extensions import db


def _minutes_status_label(status: str) -> str:
    return str(services.MINUTES_STATUS_LABELS.get(status, status))


def _transition_label(action: str) -> str:
    return str(services.TRANSITION_LABELS[action])


def _transition_done(action: str) -> str:
    return {
        "circulate": _("Minutes circulated; the group's members have been e-mailed."),
        "approve": _("Minutes approved."),
        "publish": _("Minutes published. They are now locked."),
        "withdraw": _("Minutes returned to draft."),
    }[action]


def _visible_outcomes(meeting: Meeting) -> list[Outcome]:
    return [o for o in meeting.outcomes if rules.can_view_outcome(current_user, o)]


# --- panels included by 4A's meeting and group pages ----------------------------------------


@bp.app_context_processor
def _records_helpers():
    return {
        "records_meeting_panel": _meeting_panel,
        "records_group_panel": _group_panel,
        "minutes_status_label": _minutes_status_label,
        "OUTCOME_KIND_LABELS": OUTCOME_KIND_LABELS,
        "OUTCOME_STATUS_LABELS": OUTCOME_STATUS_LABELS,
        "ENGAGEMENT_AREAS": ENGAGEMENT_AREAS,
        "MEMBER_ROLE_LABELS": ROLE_LABELS,
        "RSVP_LABELS": RSVP_LABELS,
        "is_overdue": services.is_overdue,
    }


def _meeting_panel(meeting: Meeting) -> dict:
    user = current_user
    minutes = meeting.minutes
    return {
        "can_keep_record": rules.can_keep_record(user, meeting),
        "can_view_attendance": rules.can_view_attendance(user, meeting),
        "attendance": services.attendance_summary(meeting),
        "can_self_confirm": services.can_self_confirm(user, meeting),
        "own_record": next(
            (r for r in meeting.attendance if user.is_authenticated and r.user_id == user.id),
            None,
        ),
        "minutes": minutes,
        "can_view_minutes": minutes is not None and rules.can_view_minutes(user, minutes, meeting),
        "can_edit_minutes": rules.can_edit_minutes(user, meeting),
        "outcomes": _visible_outcomes(meeting),
        "can_add_outcome": rules.can_edit_outcome(user),
        "confirm_form": ConfirmForm(),
    }


def _group_panel(group: AdvisoryGroup) -> dict:
    return {"can_view_tracker": rules.can_view_tracker(current_user, group)}


# --- attendance -------------------------------------------------------------------------------


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


# --- minutes ----------------------------------------------------------------------------------


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
        outcomes=_visible_outcomes(meeting),
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


# --- outcomes ---------------------------------------------------------------------------------


def _outcome_or_404(outcome_id: int) -> Outcome:
    outcome = db.session.get(Outcome, outcome_id)
    if outcome is None or not rules.can_view_meeting(current_user, outcome.meeting):
        abort(404)
    if not rules.can_view_outcome(current_user, outcome):
        abort(404)
    return outcome


@bp.route("/meetings/<int:meeting_id>/outcomes/new", methods=["GET", "POST"])
@require("edit_outcomes")
def outcome_new(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    form = OutcomeForm()
    form.set_choices(meeting)
    if request.method == "GET":
        form.kind.data = request.args.get("kind", OutcomeKind.ACTION.value)
        form.status.data = OutcomeStatus.OPEN.value
    form_errors: list[str] = []
    if form.validate_on_submit():
        result = attempt(services.create_outcome, current_user, meeting, form.to_data(), form=form)
        if result:
            flash(_("Outcome added: %(title)s", title=result.value.title), "success")
            return redirect(url_for("consultations.meeting", meeting_id=meeting.id))
        form_errors = result.errors
    failed = request.method == "POST"
    return render_template(
        "consultations/records_outcome_form.html",
        meeting=meeting,
        outcome=None,
        form=form,
        form_errors=form_errors,
    ), (400 if failed else 200)


@bp.route("/outcomes/<int:outcome_id>/edit", methods=["GET", "POST"])
@require("edit_outcomes")
def outcome_edit(outcome_id: int):
    outcome = _outcome_or_404(outcome_id)
    meeting = outcome.meeting
    form = OutcomeForm(obj=outcome) if request.method == "GET" else OutcomeForm()
    form.set_choices(meeting)
    form_errors: list[str] = []
    if form.validate_on_submit():
        result = attempt(services.update_outcome, current_user, outcome, form.to_data(), form=form)
        if result:
            flash(_("Outcome saved."), "success")
            return redirect(url_for("consultations.outcome_show", outcome_id=outcome_id))
        form_errors = result.errors
    failed = request.method == "POST"
    return render_template(
        "consultations/records_outcome_form.html",
        meeting=outcome.meeting,
        outcome=outcome,
        form=form,
        form_errors=form_errors,
    ), (400 if failed else 200)


@bp.route("/outcomes/<int:outcome_id>", methods=["GET", "POST"])
def outcome_show(outcome_id: int):
    """The outcome with its progress notes; owners and staff post notes here."""
    outcome = _outcome_or_404(outcome_id)
    can_update = rules.can_update_progress(current_user, outcome)
    form = ProgressNoteForm()
    form_errors: list[str] = []
    status = 200
    if request.method == "POST":
        ensure("update_outcome_progress", outcome)
        if form.validate_on_submit():
            result = attempt(
                services.add_progress_note,
                current_user,
                outcome,
                form.body.data or "",
                form.status.data or None,
                form=form,
            )
            if result:
                flash(_("Progress note added."), "success")
                return redirect(url_for("consultations.outcome_show", outcome_id=outcome_id))
            form_errors = result.errors
        status = 400
    return render_template(
        "consultations/records_outcome.html",
        outcome=outcome,
        form=form,
        form_errors=form_errors,
        can_update=can_update,
        can_edit=rules.can_edit_outcome(current_user, outcome),
        overdue=services.is_overdue(outcome),
    ), status


# --- the series -------------------------------------------------------------------------------


@bp.route("/groups/<int:group_id>/tracker")
def series_tracker(group_id: int):
    group = get_visible_group_or_404(group_id)
    if not rules.can_view_tracker(current_user, group):
        abort(404)
    args = request.args
    filters = {
        "status": args.get("status", ""),
        "owner": args.get("owner", ""),
        "area": args.get("area", ""),
        "kind": args.get("kind", ""),
        "overdue": args.get("overdue", ""),
    }
    stmt = (
        select(Outcome)
        .join(Meeting, Meeting.id == Outcome.meeting_id)
        .where(rules.visible_outcomes_filter(current_user, group))
        .options(
            selectinload(Outcome.meeting).selectinload(Meeting.minutes),
            selectinload(Outcome.owner),
            selectinload(Outcome.owner_organization),
        )
        .order_by(Meeting.starts_at.desc(), Outcome.id)
    )
    if filters["status"] in OUTCOME_STATUS_LABELS:
        stmt = stmt.where(Outcome.status == filters["status"])
    if filters["kind"] in OUTCOME_KIND_LABELS:
        stmt = stmt.where(Outcome.kind == filters["kind"])
    if filters["area"] in ENGAGEMENT_AREAS:
        stmt = stmt.where(Outcome.engagement_area == filters["area"])
    if filters["owner"].isdigit():
        stmt = stmt.where(Outcome.owner_id == int(filters["owner"]))
    if filters["overdue"]:
        stmt = stmt.where(
            Outcome.due_on < utcnow().date(),
            Outcome.status.not_in(services.CLOSED_STATUSES),
        )
    outcomes = list(db.session.scalars(stmt))
    # Owner choices: everyone who owns a visible outcome of this group.
    owners = db.session.execute(
        select(User.id, User.name)
        .join(Outcome, Outcome.owner_id == User.id)
        .where(rules.visible_outcomes_filter(current_user, group))
        .distinct()
        .order_by(User.name)
    ).all()
    return render_template(
        "consultations/records_tracker.html",
        group=group,
        outcomes=outcomes,
        filters=filters,
        owners=owners,
        overdue_count=sum(1 for o in outcomes if services.is_overdue(o)),
        all_outcomes=rules.can_see_all_outcomes(current_user, group),
    )


def _report_or_errors(group_id: int):
    group = get_visible_group_or_404(group_id)
    if not rules.can_view_tracker(current_user, group):
        abort(404)
    start, end, errors = parse_period(request.args)
    return group, start, end, errors


@bp.route("/groups/<int:group_id>/report")
def series_report(group_id: int):
    group, start, end, errors = _report_or_errors(group_id)
    report = None if errors else compile_report(group, start, end)
    return render_template(
        "consultations/records_report.html",
        group=group,
        report=report,
        start=request.args.get("from") or start.isoformat(),
        end=request.args.get("to") or end.isoformat(),
        errors=errors,
        render_markdown=render_markdown,
    ), (400 if errors else 200)


@bp.route("/groups/<int:group_id>/report.docx")
def series_report_docx(group_id: int):
    group, start, end, errors = _report_or_errors(group_id)
    if errors:
        return render_template(
            "consultations/records_report.html",
            group=group,
            report=None,
            start=request.args.get("from") or start.isoformat(),
            end=request.args.get("to") or end.isoformat(),
            errors=errors,
            render_markdown=render_markdown,
        ), 400
    data = build_docx(compile_report(group, start, end))
    filename = f"series-report-{group.id}-{start.isoformat()}-{end.isoformat()}.docx"
    return (
        data,
        200,
        {
            "Content-Type": (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            ),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


# --- staff dashboard --------------------------------------------------------------------------


@bp.route("/dashboard")
@require("view_consultations_dashboard")
def staff_dashboard():
    by = request.args.get("by", "region")
    if by not in ("region", "constituency"):
        by = "region"
    group_id = request.args.get("group", "")
    group = db.session.get(AdvisoryGroup, int(group_id)) if group_id.isdigit() else None
    gid = group.id if group else None
    series = figures.attendance_series(by=by, group_id=gid)
    title = (
        _("Attendance rate by region (M49 continent)")
        if by == "region"
        else _("Attendance rate by constituency")
    )
    return render_template(
        "consultations/records_dashboard.html",
        upcoming=figures.upcoming_meetings(),
        members=figures.attendance_by_member(group_id=gid),
        series=series,
        chart=figures.line_chart_svg(series, title),
        chart_title=title,
        by=by,
        group=group,
        groups=figures.groups(),
        overdue=figures.overdue_outcomes(),
    )
