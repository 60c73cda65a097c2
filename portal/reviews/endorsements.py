"""Reading endorsements ("+1" on a comment): how many, whether the viewer endorsed, who.

Every list of comments (the round page, a paragraph's thread, the docket and its downloads,
"what we heard", the API, the staff list and the matrix exports) shows the same count, read
here in one query per page of comments. The endorsers' names are given only to a viewer who
may see them (``permissions.sees_endorsers``); an anonymous round shows counts only. The
use cases that add and withdraw an endorsement are in ``services``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.reviews import permissions
from portal.reviews.models import Comment, Endorsement

_CHUNK = 900  # bound parameters per IN list (some databases cap them)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def endorsement_counts(comment_ids: Iterable[int]) -> dict[int, int]:
    """Number of endorsements of each comment (comments without any are absent)."""
    ids = sorted({int(i) for i in comment_ids})
    counts: dict[int, int] = {}
    for chunk in _chunks(ids):
        for comment_id, n in db.session.execute(
            select(Endorsement.comment_id, func.count(Endorsement.id))
            .where(Endorsement.comment_id.in_(chunk))
            .group_by(Endorsement.comment_id)
        ):
            counts[comment_id] = n
    return counts


def endorser_label(endorsement: Endorsement) -> str:
    user = endorsement.user
    name = user.name if user is not None else _("(deleted account)")
    if endorsement.organization is not None:
        name = f"{name} ({endorsement.organization.name})"
    return name


@dataclass
class EndorsementSummary:
    """What one viewer may know about the endorsements of a list of comments."""

    counts: dict[int, int] = field(default_factory=dict)
    mine: set[int] = field(default_factory=set)
    names: dict[int, list[str]] = field(default_factory=dict)
    toggle: dict[int, bool] = field(default_factory=dict)

    def count(self, comment: Comment) -> int:
        return self.counts.get(comment.id, 0)

    def endorsed(self, comment: Comment) -> bool:
        """Whether the viewer endorses this comment."""
        return comment.id in self.mine

    def names_of(self, comment: Comment) -> list[str]:
        return self.names.get(comment.id, [])

    def may_toggle(self, comment: Comment) -> bool:
        """Whether the viewer may press the button now (endorse, or withdraw their own)."""
        return self.toggle.get(comment.id, False)


def summarise(viewer, comments: Iterable[Comment]) -> EndorsementSummary:
    """Counts, the viewer's own endorsements, names where allowed, and which buttons work.

    ``comments`` must already be the ones the viewer may see (every caller lists comments
    through the visibility filters); two or three queries whatever their number.
    """
    comments = [c for c in comments if c is not None]
    ids = [c.id for c in comments]
    summary = EndorsementSummary(counts=endorsement_counts(ids))
    if not ids:
        return summary
    signed_in = permissions.is_signed_in(viewer)
    if signed_in:
        for chunk in _chunks(sorted(set(ids))):
            summary.mine.update(
                db.session.scalars(
                    select(Endorsement.comment_id).where(
                        Endorsement.comment_id.in_(chunk), Endorsement.user_id == viewer.id
                    )
                )
            )
    named = [
        c.id
        for c in comments
        if summary.counts.get(c.id) and permissions.sees_endorsers(viewer, c.round)
    ]
    for chunk in _chunks(sorted(set(named))):
        for endorsement in db.session.scalars(
            select(Endorsement)
            .where(Endorsement.comment_id.in_(chunk))
            .order_by(Endorsement.created_at, Endorsement.id)
            .options(selectinload(Endorsement.user), selectinload(Endorsement.organization))
        ):
            summary.names.setdefault(endorsement.comment_id, []).append(endorser_label(endorsement))
    reviewer_of: dict[int, bool] = {}  # per round: one invitation query, not one per comment
    for c in comments:
        if c.id in summary.mine:
            summary.toggle[c.id] = permissions.may_withdraw_endorsement(viewer, c)
        elif signed_in and c.round.allow_endorsements:
            if c.round_id not in reviewer_of:
                reviewer_of[c.round_id] = permissions.is_reviewer_of(viewer, c.round)
            refusal = permissions.endorse_refusal(viewer, c, reviewer=reviewer_of[c.round_id])
            summary.toggle[c.id] = refusal is None
    return summary
