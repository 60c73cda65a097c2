"""Figures for the staff consultations dashboard: upcoming meetings with their RSVP counts,
attendance rates (per member; per region or constituency, month by month) and overdue action
items — plus the small server-rendered SVG chart that shows the rates without any JavaScript.

Attendance rate = present ÷ recorded (present + absent + excused), over the attendance records
of scheduled or held meetings. An excused absence still counts as not attending: the rate is
about who was in the room, the register shows who sent apologies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.consultations.models import (
    AdvisoryGroup,
    AttendanceRecord,
    AttendanceStatus,
    GroupMember,
    Invitation,
    Meeting,
    MeetingStatus,
    Outcome,
    OutcomeStatus,
    RsvpResponse,
)
from portal.core.models import utcnow
from portal.extensions import db
from portal.partners.models import STAKEHOLDER_GROUPS, Country, Organization, Region
from portal.partners.place_names import place_name

NOT_STATED = "—"
LIVE_MEETING = (MeetingStatus.SCHEDULED.value, MeetingStatus.HELD.value)


# --- upcoming meetings ------------------------------------------------------------------------


@dataclass
class RsvpCounts:
    accepted: int = 0
    declined: int = 0
    tentative: int = 0
    pending: int = 0
    waitlisted: int = 0

    @property
    def invited(self) -> int:
        return self.accepted + self.declined + self.tentative + self.pending + self.waitlisted


def rsvp_counts(meeting_ids: list[int]) -> dict[int, RsvpCounts]:
    """One grouped query; accepted-but-waitlisted counts as waitlisted, not accepted."""
    counts = {mid: RsvpCounts() for mid in meeting_ids}
    if not meeting_ids:
        return counts
    rows = db.session.execute(
        select(Invitation.meeting_id, Invitation.response, Invitation.waitlisted, func.count())
        .where(Invitation.meeting_id.in_(meeting_ids))
        .group_by(Invitation.meeting_id, Invitation.response, Invitation.waitlisted)
    ).all()
    for meeting_id, response, waitlisted, n in rows:
        c = counts[meeting_id]
        if waitlisted and response == RsvpResponse.ACCEPTED:
            c.waitlisted += n
        elif response in (
            RsvpResponse.ACCEPTED,
            RsvpResponse.DECLINED,
            RsvpResponse.TENTATIVE,
            RsvpResponse.PENDING,
        ):
            setattr(c, str(response), getattr(c, str(response)) + n)
    return counts


def upcoming_meetings(limit: int = 20) -> list[tuple[Meeting, RsvpCounts]]:
    meetings = db.session.scalars(
        select(Meeting)
        .where(
            Meeting.ends_at >= utcnow(),
            Meeting.status.in_([MeetingStatus.DRAFT.value, MeetingStatus.SCHEDULED.value]),
        )
        .options(selectinload(Meeting.group))
        .order_by(Meeting.starts_at)
        .limit(limit)
    ).all()
    counts = rsvp_counts([m.id for m in meetings])
    return [(m, counts[m.id]) for m in meetings]


# --- attendance -------------------------------------------------------------------------------


@dataclass
class Rate:
    present: int = 0
    recorded: int = 0

    @property
    def percent(self) -> float | None:
        return round(100 * self.present / self.recorded, 1) if self.recorded else None


@dataclass
class MemberRate:
    user: User
    organization: Organization | None
    region: str
    constituency: str
    rate: Rate


def continent_names() -> dict[str, str]:
    """Country code → its M49 continent (level-2 region) name."""
    regions = {
        code: (parent, level, place_name(name))
        for code, parent, level, name in db.session.execute(
            select(Region.code, Region.parent_code, Region.level, Region.name)
        )
    }
    out: dict[str, str] = {}
    for country_code, region_code in db.session.execute(select(Country.code, Country.region_code)):
        node, seen = region_code, set()
        while node is not None and node in regions and node not in seen:
            seen.add(node)
            parent, level, name = regions[node]
            if level == 2:
                out[country_code] = name
                break
            node = parent
    return out


def _attendance_rows(group_id: int | None, since: datetime | None):
    """(record, meeting start, member row or None, user) for live meetings, oldest first."""
    member = GroupMember
    stmt = (
        select(AttendanceRecord, Meeting.starts_at, member, User)
        .join(Meeting, Meeting.id == AttendanceRecord.meeting_id)
        .join(User, User.id == AttendanceRecord.user_id)
        .outerjoin(
            member,
            and_(member.group_id == Meeting.group_id, member.user_id == AttendanceRecord.user_id),
        )
        .where(Meeting.status.in_(LIVE_MEETING), Meeting.starts_at <= utcnow())
        .order_by(Meeting.starts_at)
    )
    if group_id is not None:
        stmt = stmt.where(Meeting.group_id == group_id)
    if since is not None:
        stmt = stmt.where(Meeting.starts_at >= since)
    return db.session.execute(stmt).all()


def _organization(member: GroupMember | None, user: User) -> Organization | None:
    if member is not None and member.organization is not None:
        return member.organization
    return user.organization


def _constituency(member: GroupMember | None, org: Organization | None) -> str:
    key = (member.constituency if member is not None else None) or (
        org.stakeholder_group if org is not None else None
    )
    return str(STAKEHOLDER_GROUPS[key]) if key in STAKEHOLDER_GROUPS else NOT_STATED


def _region(org: Organization | None, continents: dict[str, str]) -> str:
    if org is None or not org.country_code:
        return NOT_STATED
    return continents.get(org.country_code, NOT_STATED)


def attendance_by_member(
    group_id: int | None = None, since: datetime | None = None
) -> list[MemberRate]:
    continents = continent_names()
    by_user: dict[int, MemberRate] = {}
    for record, _starts, member, user in _attendance_rows(group_id, since):
        if user.id not in by_user:
            org = _organization(member, user)
            by_user[user.id] = MemberRate(
                user=user,
                organization=org,
                region=_region(org, continents),
                constituency=_constituency(member, org),
                rate=Rate(),
            )
        rate = by_user[user.id].rate
        rate.recorded += 1
        rate.present += record.status == AttendanceStatus.PRESENT
    return sorted(by_user.values(), key=lambda m: (m.user.name or "").casefold())


@dataclass
class Series:
    """Attendance rate per month (columns) and per region/constituency (lines)."""

    months: list[str] = field(default_factory=list)  # "YYYY-MM"
    lines: dict[str, list[Rate]] = field(default_factory=dict)

    def percent_rows(self) -> list[tuple[str, list[float | None]]]:
        return [(label, [r.percent for r in rates]) for label, rates in self.lines.items()]


def attendance_series(
    by: str = "region", group_id: int | None = None, since: datetime | None = None
) -> Series:
    continents = continent_names() if by == "region" else {}
    buckets: dict[str, dict[str, Rate]] = defaultdict(dict)
    months: set[str] = set()
    for record, starts, member, user in _attendance_rows(group_id, since):
        starts = starts if starts.tzinfo else starts.replace(tzinfo=UTC)
        month = f"{starts:%Y-%m}"
        months.add(month)
        org = _organization(member, user)
        label = _region(org, continents) if by == "region" else _constituency(member, org)
        rate = buckets[label].setdefault(month, Rate())
        rate.recorded += 1
        rate.present += record.status == AttendanceStatus.PRESENT
    ordered = sorted(months)
    series = Series(months=ordered)
    for label in sorted(buckets, key=lambda s: (s == NOT_STATED, s.casefold())):
        series.lines[label] = [buckets[label].get(m, Rate()) for m in ordered]
    return series


# --- overdue ----------------------------------------------------------------------------------


def overdue_outcomes(limit: int = 100) -> list[Outcome]:
    today = utcnow().date()
    return list(
        db.session.scalars(
            select(Outcome)
            .join(Meeting, Meeting.id == Outcome.meeting_id)
            .where(
                Outcome.due_on < today,
                Outcome.status.not_in([OutcomeStatus.DONE.value, OutcomeStatus.DROPPED.value]),
            )
            .options(selectinload(Outcome.meeting).selectinload(Meeting.group))
            .order_by(Outcome.due_on, Outcome.id)
            .limit(limit)
        )
    )


def groups() -> list[AdvisoryGroup]:
    return list(db.session.scalars(select(AdvisoryGroup).order_by(AdvisoryGroup.name)))


# --- the chart --------------------------------------------------------------------------------

# Colour-blind-safe palette (Okabe–Ito); dashes tell the lines apart without colour too.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "12 2"]


def _legend_layout(labels: list[str], left: int, width: int) -> list[tuple[float, int]]:
    """(x, row) for each legend entry, wrapping onto new rows instead of running off the edge."""
    x, row, out = float(left), 0, []
    for label in labels:
        entry = 30 + 7 * len(label)
        if x + entry > width and x > left:
            x, row = float(left), row + 1
        out.append((x, row))
        x += entry
    return out


def line_chart_svg(series: Series, title: str, width: int = 640, plot_height: int = 220) -> Markup:
    """An accessible inline SVG line chart of attendance rates (0–100 %) by month."""
    rows = series.percent_rows()
    legend = _legend_layout([label for label, _values in rows], 44, width - 12)
    legend_rows = (max((r for _x, r in legend), default=0) + 1) if rows else 0
    left, right, top = 44, 12, 16
    bottom = 30 + 18 * legend_rows
    height = top + plot_height + bottom
    plot_w, plot_h = width - left - right, plot_height
    n = len(series.months)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        # An f-string, not `str + Markup`: Markup.__radd__ would escape the <desc> tags into
        # visible text.
        f'<desc id="chart-desc">'
        f"{escape(_('Attendance rate in per cent by month; the same figures are in the table.'))}"
        f"</desc>",
    ]
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d8dee6" />'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{pct}%</text>'
        )

    inset = 28  # keep the first and last month labels inside the drawing

    def x_at(i: int) -> float:
        span = plot_w - 2 * inset
        return left + inset + (span / 2 if n == 1 else span * i / (n - 1))

    for i, month in enumerate(series.months):
        parts.append(
            f'<text x="{x_at(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'font-size="11">{escape(month)}</text>'
        )
    for index, (label, values) in enumerate(rows):
        colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        points = [
            (x_at(i), top + plot_h * (1 - v / 100), v)
            for i, v in enumerate(values)
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v in points)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'stroke-dasharray="{dash}" points="{path}" />'
            )
        for x, y, value in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(label)}: {value}%</title></circle>"
            )
        lx, row = legend[index]
        ly = top + plot_h + 36 + 18 * row
        parts.append(
            f'<line x1="{lx:.1f}" y1="{ly}" x2="{lx + 18:.1f}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" />'
            f'<text x="{lx + 22:.1f}" y="{ly + 4}" font-size="11">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text node above is escaped
