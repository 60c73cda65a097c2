"""The consultations blueprint, its template labels and filters, and the loaders every page uses.

Loaders answer 404, never 403, for a group or meeting the viewer may not see: a private group
stays unknown. Staff-only actions use the guard (``@require("manage_meetings")``).
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.consultations.forms import MODE_LABELS, ROLE_LABELS, RSVP_LABELS, STATUS_LABELS
from portal.consultations.models import ENGAGEMENT_AREAS, AdvisoryGroup, AgendaItem, Meeting
from portal.consultations.permissions import can_view_group, can_view_meeting
from portal.core.dates import format_when, timezone_choices
from portal.core.models import as_utc
from portal.extensions import db
from portal.partners.models import STAKEHOLDER_GROUPS

bp = Blueprint("consultations", __name__, url_prefix="/consultations")


@bp.app_context_processor
def _consultation_labels():
    return {
        "ENGAGEMENT_AREAS": ENGAGEMENT_AREAS,
        "MEETING_MODE_LABELS": MODE_LABELS,
        "MEETING_STATUS_LABELS": STATUS_LABELS,
        "MEMBER_ROLE_LABELS": ROLE_LABELS,
        "RSVP_LABELS": RSVP_LABELS,
        "STAKEHOLDER_GROUPS": STAKEHOLDER_GROUPS,
    }


@bp.app_template_filter("in_zone")
def in_zone(value, tz_name: str | None):
    """A stored (UTC) datetime shown in a time zone: ``{{ m.starts_at|in_zone(m.timezone) }}``."""
    if value is None:
        return ""
    return format_when(as_utc(value), tz_name)


def get_visible_group_or_404(group_id: int) -> AdvisoryGroup:
    """404, never 403, for a group the viewer may not see: a private group stays unknown."""
    group = db.session.get(AdvisoryGroup, group_id)
    if group is None or not can_view_group(current_user, group):
        abort(404)
    return group


def get_visible_meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or not can_view_meeting(current_user, meeting):
        abort(404)
    return meeting


def get_group_or_404(group_id: int) -> AdvisoryGroup:
    """For staff pages (the guard has already run): archived and private groups included."""
    return db.session.get(AdvisoryGroup, group_id) or abort(404)


def get_meeting_or_404(meeting_id: int) -> Meeting:
    """For staff pages (the guard has already run): drafts included."""
    return db.session.get(Meeting, meeting_id) or abort(404)


def item_of(meeting: Meeting, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


def timezone_select_choices(current: str | None = None) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in timezone_choices(current)]
