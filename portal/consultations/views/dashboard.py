"""The staff consultations dashboard: upcoming meetings with RSVP counts, attendance rates and
overdue action items."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _

from portal.consultations import dashboard as figures
from portal.consultations.models import (
    AdvisoryGroup,
)
from portal.consultations.views.common import (
    bp,
)
from portal.core.guard import require
from portal.extensions import db


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
