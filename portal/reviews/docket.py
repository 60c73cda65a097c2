"""The docket of a public consultation: every published comment of the round, each with a
stable URL, filtered by paragraph, organisation type, region and the secretariat's decision,
and the same filtered list as CSV or JSON.

"Published" is what the viewer may read on "what we heard" (``heard_comments_filter``): live
top-level comments — never withdrawn or hidden ones — and, while a round whose reviewers do not
see each other is open, only one's own. Anonymity: an anonymous comment's author, organisation,
organisation type and region are shown only to those who may see its author
(``permissions.sees_author``); the organisation-type and region filters never match an
anonymous comment for anyone else, so a filter cannot reveal them either.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, and_, false, or_, select, true
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.partners.models import ORG_TYPES, Country, Organization
from portal.reviews import permissions
from portal.reviews.dispositions import document_order, region_descendants, region_names
from portal.reviews.endorsements import endorsement_counts
from portal.reviews.labels import author_label, comment_type_label, decision_label
from portal.reviews.models import Comment, Decision, Disposition, Paragraph, ReviewRound

WHOLE_DOCUMENT = "document"
UNANSWERED = "none"
MAX_EXPORT_ROWS = 50_000


@dataclass
class DocketFilters:
    paragraph: str = ""  # a paragraph's anchor, WHOLE_DOCUMENT, or "" for all
    org_type: str = ""
    region: str = ""  # an M49 code (its sub-regions included)
    decision: str = ""  # a Decision value, UNANSWERED, or ""

    def as_args(self) -> dict[str, str]:
        return {
            "paragraph": self.paragraph,
            "org_type": self.org_type,
            "region": self.region,
            "decision": self.decision,
        }

    @property
    def active(self) -> bool:
        return any(self.as_args().values())


def parse_docket_filters(args, review_round: ReviewRound) -> DocketFilters:
    """The filters from a query string; anything not understood is ignored (all comments)."""
    paragraph = (args.get("paragraph") or "").strip()[:40]
    if paragraph and paragraph != WHOLE_DOCUMENT:
        known = db.session.scalar(
            select(Paragraph.id).where(
                Paragraph.version_id == review_round.version_id, Paragraph.anchor == paragraph
            )
        )
        if known is None:
            paragraph = ""
    org_type = args.get("org_type") or ""
    if org_type not in ORG_TYPES:
        org_type = ""
    region = (args.get("region") or "").strip()
    if not (region.isdigit() and len(region) == 3):
        region = ""
    decision = args.get("decision") or ""
    if decision not in {d.value for d in Decision} | {UNANSWERED}:
        decision = ""
    return DocketFilters(paragraph=paragraph, org_type=org_type, region=region, decision=decision)


def _organisation_visible(viewer):
    """SQL: the comment's organisation may be used for this viewer (not anonymous to them)."""
    if permissions.is_staff(viewer):
        return true()
    own = Comment.author_id == viewer.id if permissions.is_signed_in(viewer) else false()
    return or_(Comment.anonymous.is_(False), own)


def docket_query(review_round: ReviewRound, viewer, filters: DocketFilters) -> Select:
    stmt = select(Comment).where(permissions.heard_comments_filter(viewer, review_round))
    if filters.paragraph == WHOLE_DOCUMENT:
        stmt = stmt.where(Comment.paragraph_id.is_(None))
    elif filters.paragraph:
        stmt = stmt.where(
            Comment.paragraph_id.in_(
                select(Paragraph.id).where(
                    Paragraph.version_id == review_round.version_id,
                    Paragraph.anchor == filters.paragraph,
                )
            )
        )
    if filters.org_type:
        stmt = stmt.where(
            _organisation_visible(viewer),
            Comment.organization_id.in_(
                select(Organization.id).where(Organization.org_type == filters.org_type)
            ),
        )
    if filters.region:
        codes = region_descendants(filters.region)
        stmt = stmt.where(
            _organisation_visible(viewer),
            Comment.organization_id.in_(
                select(Organization.id)
                .join(Country, Organization.country_code == Country.code)
                .where(Country.region_code.in_(codes))
            ),
        )
    answered = select(Disposition.comment_id)
    if filters.decision == UNANSWERED:
        stmt = stmt.where(Comment.id.not_in(answered))
    elif filters.decision:
        stmt = stmt.where(
            Comment.id.in_(answered.where(and_(Disposition.decision == filters.decision)))
        )
    return document_order(stmt).options(
        selectinload(Comment.author),
        selectinload(Comment.organization).selectinload(Organization.country),
        selectinload(Comment.paragraph),
        selectinload(Comment.disposition),
        selectinload(Comment.round),
    )


def docket_comment(review_round: ReviewRound, viewer, comment_id: int) -> Comment | None:
    """One comment of the docket, or None when it is not (or no longer) published to the
    viewer — the rule of the list, so a permalink never shows more than the docket."""
    return db.session.scalar(
        docket_query(review_round, viewer, DocketFilters()).where(Comment.id == comment_id)
    )


@dataclass
class DocketRow:
    id: int
    url: str
    paragraph: str
    paragraph_anchor: str
    quote: str
    comment_type: str
    comment: str
    proposed_change: str
    author: str
    organization: str
    organization_type: str
    region: str
    created_at: str
    decision: str
    decision_label: str
    answer: str
    endorsements: int = 0


def docket_row(
    comment: Comment, viewer, url: str, regions: dict[str, str], endorsements: int = 0
) -> DocketRow:
    org = comment.organization if permissions.sees_author(viewer, comment) else None
    region = ""
    if org is not None and org.country is not None and org.country.region_code:
        region = regions.get(org.country.region_code, "")
    paragraph = comment.paragraph
    disposition = comment.disposition
    return DocketRow(
        id=comment.id,
        url=url,
        paragraph=(
            str(paragraph.number)
            if paragraph is not None and paragraph.number is not None
            else ("" if paragraph is not None else _("Whole document"))
        ),
        paragraph_anchor=paragraph.anchor if paragraph is not None else "",
        quote=comment.quoted_text or "",
        comment_type=comment_type_label(comment.comment_type),
        comment=comment.body,
        proposed_change=comment.proposed_change or "",
        author=str(author_label(comment, viewer)),
        organization=org.name if org is not None else "",
        organization_type=str(org.org_type_label) if org is not None else "",
        region=region,
        created_at=comment.created_at.isoformat() if comment.created_at else "",
        decision=disposition.decision if disposition is not None else "",
        decision_label=decision_label(disposition.decision) if disposition is not None else "",
        answer=disposition.response if disposition is not None else "",
        endorsements=endorsements,
    )


def docket_rows(comments, viewer, url_for_comment) -> list[DocketRow]:
    regions = region_names()
    counts = endorsement_counts(c.id for c in comments)
    return [
        docket_row(c, viewer, url_for_comment(c), regions, counts.get(c.id, 0)) for c in comments
    ]


def csv_headers() -> list[str]:
    return [
        _("Comment no."),
        _("Link"),
        _("Paragraph"),
        _("Passage"),
        _("Type"),
        _("Comment"),
        _("Proposed change"),
        _("Author"),
        _("Organisation"),
        _("Organisation type"),
        _("Region"),
        _("Date (UTC)"),
        _("Decision"),
        _("Answer"),
        _("Endorsements"),
    ]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value) -> str:
    """Spreadsheet programs run cells starting with = + - @ as formulas: quote them."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: list[DocketRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_headers())
    for r in rows:
        values = [
            r.url,
            r.paragraph,
            r.quote,
            r.comment_type,
            r.comment,
            r.proposed_change,
            r.author,
            r.organization,
            r.organization_type,
            r.region,
            r.created_at,
            r.decision_label,
            r.answer,
        ]
        writer.writerow([r.id, *(_csv_safe(v) for v in values), r.endorsements])
    # The BOM tells Excel the file is UTF-8; without it Chinese and Arabic turn to mojibake.
    return ("\ufeff" + out.getvalue()).encode("utf-8")
