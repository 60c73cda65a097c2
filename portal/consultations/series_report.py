"""The compiled record of a group's series of meetings over a period: published minutes (with
their attendance) and the outcomes of those meetings, as an HTML page and as a Word document.

Only *published* minutes are compiled, whoever asks: the report is the group's public record,
and a staff member exporting it must not leak a draft by accident. Outcomes are those of the
compiled meetings, with their status as of today.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.consultations.minutes_render import markdown_blocks
from portal.consultations.models import (
    ENGAGEMENT_AREAS,
    AdvisoryGroup,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesStatus,
    Outcome,
)
from portal.consultations.records_services import (
    AttendanceSummary,
    attendance_summary,
    is_overdue,
)
from portal.core.models import as_utc, utcnow
from portal.extensions import db

MAX_PERIOD_DAYS = 366 * 5  # a report over decades is a database dump, not a report


@dataclass
class ReportMeeting:
    meeting: Meeting
    minutes: Minutes
    attendance: AttendanceSummary
    outcomes: list[Outcome]


@dataclass
class SeriesReport:
    group: AdvisoryGroup
    start: date
    end: date
    meetings: list[ReportMeeting] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [o for m in self.meetings for o in m.outcomes]


def default_period(today: date | None = None) -> tuple[date, date]:
    today = today or utcnow().date()
    return today - timedelta(days=365), today


def parse_period(args) -> tuple[date, date, dict[str, str]]:
    """``from`` / ``to`` (YYYY-MM-DD) from the query string; errors per parameter."""
    start, end = default_period()
    errors: dict[str, str] = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            errors[name] = _("Enter a date as YYYY-MM-DD.")
            continue
        if name == "from":
            start = value
        else:
            end = value
    if not errors and end < start:
        errors["to"] = _("The end of the period must not be before its start.")
    elif not errors and (end - start).days > MAX_PERIOD_DAYS:
        errors["to"] = _("Choose a period of at most five years.")
    return start, end, errors


def compile_report(group: AdvisoryGroup, start: date, end: date) -> SeriesReport:
    begins = datetime.combine(start, time.min, tzinfo=UTC)
    ends = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    meetings = db.session.scalars(
        select(Meeting)
        .join(Minutes, Minutes.meeting_id == Meeting.id)
        .where(
            Meeting.group_id == group.id,
            Meeting.status.in_([MeetingStatus.SCHEDULED.value, MeetingStatus.HELD.value]),
            Meeting.starts_at >= begins,
            Meeting.starts_at < ends,
            Minutes.status == MinutesStatus.PUBLISHED.value,
        )
        .options(selectinload(Meeting.outcomes), selectinload(Meeting.attendance))
        .order_by(Meeting.starts_at, Meeting.id)
    ).all()
    report = SeriesReport(group=group, start=start, end=end)
    for meeting in meetings:
        report.meetings.append(
            ReportMeeting(
                meeting=meeting,
                minutes=meeting.minutes,
                attendance=attendance_summary(meeting),
                outcomes=list(meeting.outcomes),
            )
        )
    return report


# --- Word ------------------------------------------------------------------------------------

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LETTER = re.compile(r"[^\W\d_]")


def is_rtl(text: str) -> bool:
    """Mostly Arabic letters → lay the paragraph out right to left."""
    letters = _LETTER.findall(text or "")
    return bool(letters) and len(_ARABIC.findall(text)) * 2 > len(letters)


def _set_fonts(style, latin: str = "Calibri") -> None:
    """Name a font for each script slot, so Word picks glyphs for Chinese (eastAsia) and
    Arabic (cs) instead of showing boxes on systems without font fallback."""
    style.font.name = latin
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), "Microsoft YaHei")
    fonts.set(qn("w:cs"), "Arial")


def _direction(paragraph, text: str) -> None:
    if not is_rtl(text):
        return
    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(OxmlElement("w:bidi"))
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for run in paragraph.runs:
        run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))


def _para(doc, text: str, style: str | None = None):
    paragraph = doc.add_paragraph(text, style=style)
    _direction(paragraph, text)
    return paragraph


def _heading(doc, text: str, level: int):
    heading = doc.add_heading(text, level=min(max(level, 0), 9))
    _direction(heading, text)
    return heading


def _label(value: str | None, labels: dict[str, str]) -> str:
    return str(labels[value]) if value in labels else (value or "—")


def _meeting_when(meeting: Meeting) -> str:
    starts = as_utc(meeting.starts_at)
    try:
        from zoneinfo import ZoneInfo

        local = starts.astimezone(ZoneInfo(meeting.timezone or "UTC"))
    except Exception:  # an unknown zone stored by hand: fall back to UTC, never fail the report
        local = starts
    return f"{local:%Y-%m-%d %H:%M} ({meeting.timezone or 'UTC'})"


def build_docx(report: SeriesReport) -> bytes:
    from portal.consultations.records_forms import OUTCOME_KIND_LABELS, OUTCOME_STATUS_LABELS

    doc = Document()
    for name in (
        "Normal",
        "Title",
        "Heading 1",
        "Heading 2",
        "Heading 3",
        "List Bullet",
        "List Number",
    ):
        _set_fonts(doc.styles[name])
    doc.styles["Normal"].font.size = Pt(11)

    _heading(doc, _("Series report: %(group)s", group=report.group.name), 0)
    _para(
        doc,
        _(
            "Period: %(start)s – %(end)s",
            start=report.start.isoformat(),
            end=report.end.isoformat(),
        ),
    )
    if report.group.description:
        _para(doc, report.group.description)
    if not report.meetings:
        _para(doc, _("No minutes were published for meetings in this period."))

    kinds = {k: str(v) for k, v in OUTCOME_KIND_LABELS.items()}
    statuses = {k: str(v) for k, v in OUTCOME_STATUS_LABELS.items()}
    for item in report.meetings:
        meeting = item.meeting
        _heading(doc, meeting.title, 1)
        _para(doc, _meeting_when(meeting))
        _heading(doc, _("Attendance"), 2)
        for label, names in (
            (_("Present"), item.attendance.present),
            (_("Apologies (excused)"), item.attendance.excused),
            (_("Absent"), item.attendance.absent),
        ):
            text = f"{label}: {', '.join(names) if names else '—'}"
            _para(doc, text)
        _heading(doc, _("Minutes"), 2)
        for block in markdown_blocks(item.minutes.body):
            if block.kind == "heading":
                _heading(doc, block.text, min(block.level + 2, 9))
            elif block.kind == "bullet":
                _para(doc, block.text, "List Bullet")
            elif block.kind == "number":
                _para(doc, block.text, "List Number")
            else:
                _para(doc, block.text)

    outcomes = report.outcomes
    if outcomes:
        _heading(doc, _("Recommendations and action items"), 1)
        headers = [
            _("Meeting"),
            _("Kind"),
            _("Title"),
            _("Owner"),
            _("Area"),
            _("Due"),
            _("Status"),
        ]
        table = doc.add_table(rows=1, cols=len(headers))
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, headers, strict=True):
            cell.text = text
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for outcome in outcomes:
            owner = ", ".join(
                n
                for n in (
                    outcome.owner.name if outcome.owner else None,
                    outcome.owner_organization.name if outcome.owner_organization else None,
                )
                if n
            )
            status = _label(outcome.status, statuses)
            if is_overdue(outcome):
                status = f"{status} — {_('overdue')}"
            values = [
                outcome.meeting.title,
                _label(outcome.kind, kinds),
                outcome.title,
                owner or "—",
                _label(outcome.engagement_area, ENGAGEMENT_AREAS)
                if outcome.engagement_area
                else "—",
                outcome.due_on.isoformat() if outcome.due_on else "—",
                status,
            ]
            row = table.add_row()
            for cell, text in zip(row.cells, values, strict=True):
                cell.text = text
                _direction(cell.paragraphs[0], text)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
