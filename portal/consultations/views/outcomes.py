"""Outcomes (recommendations and action items) with progress notes, and the series: the
outcome tracker and the series report (page and .docx)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.consultations import records_permissions as rules
from portal.consultations import records_services as services
from portal.consultations.minutes_render import render_markdown
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    Meeting,
    Outcome,
    OutcomeKind,
    OutcomeStatus,
)
from portal.consultations.records_forms import (
    OUTCOME_KIND_LABELS,
    OUTCOME_STATUS_LABELS,
    OutcomeForm,
    ProgressNoteForm,
)
from portal.consultations.series_report import build_docx, compile_report, parse_period
from portal.consultations.views.common import (
    bp,
    get_visible_group_or_404,
    get_visible_meeting_or_404,
)
from portal.core.guard import ensure, require
from portal.core.models import utcnow
from portal.core.transaction import attempt
from portal.extensions import db


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
