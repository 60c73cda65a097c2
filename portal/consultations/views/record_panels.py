"""The record of a meeting as panels on the meeting and group pages (attendance, minutes,
outcomes; the series tracker and report), and the labels the record pages share."""

from __future__ import annotations

from flask_login import current_user

from portal.consultations import records_permissions as rules
from portal.consultations import records_services as services
from portal.consultations.models import AdvisoryGroup, Meeting, Outcome
from portal.consultations.records_forms import OUTCOME_KIND_LABELS, OUTCOME_STATUS_LABELS
from portal.consultations.views.common import bp
from portal.core.forms import ConfirmForm


def minutes_status_label(status: str) -> str:
    return str(services.MINUTES_STATUS_LABELS.get(status, status))


def visible_outcomes(meeting: Meeting) -> list[Outcome]:
    return [o for o in meeting.outcomes if rules.can_view_outcome(current_user, o)]


@bp.app_context_processor
def _records_helpers():
    return {
        "records_meeting_panel": _meeting_panel,
        "records_group_panel": _group_panel,
        "minutes_status_label": minutes_status_label,
        "OUTCOME_KIND_LABELS": OUTCOME_KIND_LABELS,
        "OUTCOME_STATUS_LABELS": OUTCOME_STATUS_LABELS,
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
        "outcomes": visible_outcomes(meeting),
        "can_add_outcome": rules.can_edit_outcome(user),
        "confirm_form": ConfirmForm(),
    }


def _group_panel(group: AdvisoryGroup) -> dict:
    return {"can_view_tracker": rules.can_view_tracker(current_user, group)}
