"""Use cases for the record of a meeting: attendance register, minutes, outcomes.

They live by sub-domain in ``services/attendance.py``, ``services/minutes.py`` and
``services/outcomes.py``; this module keeps every public name importable from one place
(``from portal.consultations import records_services as records``).

House recipe: check permission → validate → change → flush → record audit. Nothing here
commits: the request (or ``committing()`` in a CLI command) commits once. Search outbox rows are
written by the flush listeners (see search_docs.py); mail is queued in the same transaction.
"""

from portal.consultations.services.attendance import (
    SELF_CONFIRM_OPENS_BEFORE,
    AttendanceSummary,
    RosterRow,
    attendance_roster,
    attendance_summary,
    can_self_confirm,
    confirm_own_attendance,
    record_attendance,
)
from portal.consultations.services.minutes import (
    MAX_MINUTES_CHARS,
    MINUTES_STATUS_LABELS,
    TRANSITION_LABELS,
    TRANSITIONS,
    MinutesConflict,
    MinutesLocked,
    allowed_transitions,
    change_minutes_status,
    save_minutes,
)
from portal.consultations.services.outcomes import (
    CLOSED_STATUSES,
    MAX_NOTE_CHARS,
    OutcomeData,
    add_progress_note,
    create_outcome,
    is_overdue,
    update_outcome,
)

__all__ = [
    "AttendanceSummary",
    "CLOSED_STATUSES",
    "MAX_MINUTES_CHARS",
    "MAX_NOTE_CHARS",
    "MINUTES_STATUS_LABELS",
    "MinutesConflict",
    "MinutesLocked",
    "OutcomeData",
    "RosterRow",
    "SELF_CONFIRM_OPENS_BEFORE",
    "TRANSITIONS",
    "TRANSITION_LABELS",
    "add_progress_note",
    "allowed_transitions",
    "attendance_roster",
    "attendance_summary",
    "can_self_confirm",
    "change_minutes_status",
    "confirm_own_attendance",
    "create_outcome",
    "is_overdue",
    "record_attendance",
    "save_minutes",
    "update_outcome",
]
