"""Figures for the staff dashboard of a review round.

- Response rate: of the reviewers invited, how many commented — by region (the continent of
  their organisation's country) and by stakeholder group. One grouped query, whatever the
  number of invitations.
- Comments per paragraph, for the heat strip beside the document.

The chart is a server-rendered SVG (no JavaScript, prints well); the same numbers are always
given in a table next to it for screen readers and for copying.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import case, func, select

from portal.accounts.models import User
from portal.extensions import db
from portal.partners.models import STAKEHOLDER_GROUPS, Country, Organization, Region
from portal.reviews.dispositions import region_names, region_parents
from portal.reviews.models import (
    Comment,
    CommentStatus,
    Paragraph,
    ReviewInvitation,
    ReviewRound,
)

UNKNOWN = "unknown"


@dataclass
class RateRow:
    key: str
    label: str
    invited: int
    responded: int

    @property
    def rate(self) -> float:
        return self.responded / self.invited if self.invited else 0.0

    @property
    def percent(self) -> int:
        return round(100 * self.rate)


def _continent(code: str | None, parents: dict[str, str | None], levels: dict[str, int]) -> str:
    node = code
    while node is not None and levels.get(node, 0) > 2:
        node = parents.get(node)
    return node or UNKNOWN


def response_rates(review_round: ReviewRound) -> tuple[list[RateRow], list[RateRow], RateRow]:
    """(by region, by stakeholder group, overall)."""
    commenters = select(Comment.author_id).where(
        Comment.round_id == review_round.id,
        Comment.parent_id.is_(None),
        Comment.status == CommentStatus.ACTIVE.value,
        Comment.author_id.is_not(None),
    )
    responded = func.count(case((ReviewInvitation.user_id.in_(commenters), 1)))
    rows = db.session.execute(
        select(
            Country.region_code,
            Organization.stakeholder_group,
            func.count(ReviewInvitation.id),
            responded,
        )
        .select_from(ReviewInvitation)
        .outerjoin(User, User.id == ReviewInvitation.user_id)
        .outerjoin(Organization, Organization.id == User.organization_id)
        .outerjoin(Country, Country.code == Organization.country_code)
        .where(ReviewInvitation.round_id == review_round.id)
        .group_by(Country.region_code, Organization.stakeholder_group)
    ).all()
    parents = region_parents()
    levels = dict(db.session.execute(select(Region.code, Region.level)).all())
    names = region_names()
    by_region: dict[str, list[int]] = {}
    by_group: dict[str, list[int]] = {}
    total = [0, 0]
    for region_code, group, invited, answered in rows:
        continent = _continent(region_code, parents, levels) if region_code else UNKNOWN
        for bucket, key in ((by_region, continent), (by_group, group or UNKNOWN)):
            counts = bucket.setdefault(key, [0, 0])
            counts[0] += invited
            counts[1] += answered
        total[0] += invited
        total[1] += answered

    def label_region(key: str) -> str:
        return names.get(key, key) if key != UNKNOWN else _("Not known")

    def label_group(key: str) -> str:
        return str(STAKEHOLDER_GROUPS[key]) if key in STAKEHOLDER_GROUPS else _("Not known")

    def rows_of(bucket, labeller) -> list[RateRow]:
        out = [RateRow(k, labeller(k), v[0], v[1]) for k, v in bucket.items()]
        # Largest audiences first; "not known" last.
        return sorted(out, key=lambda r: (r.key == UNKNOWN, -r.invited, r.label))

    overall = RateRow("all", _("All invited reviewers"), total[0], total[1])
    return rows_of(by_region, label_region), rows_of(by_group, label_group), overall


def bar_chart_svg(rows: list[RateRow], title: str, chart_id: str) -> Markup:
    """A horizontal bar chart of response rates: one bar per row, the rate written beside it."""
    label_width, bar_width, row_height, gap = 220, 360, 22, 6
    width = label_width + bar_width + 110
    height = max(1, len(rows)) * (row_height + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    for index, row in enumerate(rows):
        y = gap + index * (row_height + gap)
        length = round(bar_width * row.rate)
        label = row.label if len(row.label) <= 32 else row.label[:31] + "…"
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row_height * 0.72:.1f}" text-anchor="end" '
            f'class="bar-label">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{bar_width}" height="{row_height}" '
            f'class="bar-track"/>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{row_height}" '
            f'class="bar-value"><title>{escape(row.label)}: {row.responded} / {row.invited}'
            f"</title></rect>"
        )
        parts.append(
            f'<text x="{label_width + bar_width + 8}" y="{y + row_height * 0.72:.1f}" '
            f'class="bar-figure">{row.percent}% ({row.responded}/{row.invited})</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


@dataclass
class HeatCell:
    paragraph: Paragraph | None  # None = comments on the whole document
    count: int
    intensity: float  # 0..1, relative to the busiest paragraph


def paragraph_heat(review_round: ReviewRound) -> tuple[list[HeatCell], int]:
    """Live top-level comments per paragraph of the round's version (every paragraph, zeros
    included, in document order), and the largest count."""
    counts = dict(
        db.session.execute(
            select(Comment.paragraph_id, func.count(Comment.id))
            .where(
                Comment.round_id == review_round.id,
                Comment.parent_id.is_(None),
                Comment.status == CommentStatus.ACTIVE.value,
            )
            .group_by(Comment.paragraph_id)
        ).all()
    )
    paragraphs = db.session.scalars(
        select(Paragraph)
        .where(Paragraph.version_id == review_round.version_id)
        .order_by(Paragraph.position)
    ).all()
    peak = max(counts.values(), default=0)

    def cell(paragraph, count):
        return HeatCell(paragraph, count, (count / peak) if peak else 0.0)

    cells = [cell(None, counts.get(None, 0))]
    cells += [cell(p, counts.get(p.id, 0)) for p in paragraphs]
    return cells, peak
