"""Carrying comments onto the next version, the "needs placing" queue, and "what we heard".

When staff publish version n+1, every live comment on version n moves to the paragraph of n+1
that continues its paragraph:

1. **Explicit** — a paragraph of n+1 whose ``previous_id`` already names a paragraph of n (the
   new version was made from the old one).
2. **Exact** — the same text after normalisation (Unicode NFKC, case folded, whitespace
   collapsed). Identical twins are paired by their neighbours.
3. **Fuzzy** — ``difflib.SequenceMatcher`` ratio ≥ ``FUZZY_THRESHOLD`` on the normalised text;
   neighbouring paragraphs that already match break near-ties. A paragraph is only matched to
   its *clear* best candidate: when two candidates score within ``TIE_MARGIN`` of each other
   the match is ambiguous, and a wrong guess would be worse than asking staff.

Matched paragraphs get ``previous_id`` and keep their predecessor's anchor, so links to
``#anchor`` survive versions. A comment whose paragraph has no match is marked
``needs-placing`` and waits in the staff queue for its version; nothing is ever dropped.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from portal.core.audit import record_audit
from portal.core.services import PermissionDenied, ValidationError, actor_id
from portal.extensions import db
from portal.reviews.dispositions import can_dispose, document_order
from portal.reviews.labels import author_label
from portal.reviews.models import (
    Comment,
    CommentStatus,
    DocumentVersion,
    Paragraph,
    Placement,
    ReviewRound,
    VersionStatus,
)
from portal.reviews.permissions import heard_comments_filter

FUZZY_THRESHOLD = 0.6
TIE_MARGIN = 0.02
CONTEXT_WEIGHT = 0.1  # how much agreeing neighbours add to a fuzzy score (ratio is 0..1)

_SPACE = re.compile(r"\s+")


def normalise(text: str | None) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text or "")).strip().casefold()


# --- matching paragraphs ----------------------------------------------------------------------


@dataclass
class ParagraphMatch:
    """old paragraph id → (new paragraph, how it was found)."""

    pairs: dict[int, tuple[Paragraph, str]] = field(default_factory=dict)

    def new_for(self, old_id: int | None) -> Paragraph | None:
        found = self.pairs.get(old_id) if old_id is not None else None
        return found[0] if found else None

    def how(self, old_id: int) -> str | None:
        found = self.pairs.get(old_id)
        return found[1] if found else None


class _Matcher:
    def __init__(self, old: Sequence[Paragraph], new: Sequence[Paragraph]):
        self.old = list(old)
        self.new = list(new)
        self.old_text = {p.id: normalise(p.text) for p in self.old}
        self.new_text = {id(p): normalise(p.text) for p in self.new}
        self.old_index = {p.id: i for i, p in enumerate(self.old)}
        self.new_index = {id(p): i for i, p in enumerate(self.new)}
        self.result = ParagraphMatch()
        self.taken_new: set[int] = set()  # id() of matched new paragraphs
        self._ratios: dict[tuple[int, int], float] = {}

    # state
    def _assign(self, old: Paragraph, new: Paragraph, how: str) -> None:
        self.result.pairs[old.id] = (new, how)
        self.taken_new.add(id(new))

    def free_old(self) -> list[Paragraph]:
        return [p for p in self.old if p.id not in self.result.pairs]

    def free_new(self) -> list[Paragraph]:
        return [p for p in self.new if id(p) not in self.taken_new]

    # neighbours: does the paragraph before/after the old one continue as the one before/after
    # the new one? Counts already-matched neighbours, or neighbours with equal text.
    def context(self, old: Paragraph, new: Paragraph) -> float:
        i, j = self.old_index[old.id], self.new_index[id(new)]
        score = 0.0
        for step in (-1, 1):
            oi, nj = i + step, j + step
            if not (0 <= oi < len(self.old)) or not (0 <= nj < len(self.new)):
                # Both at the same edge of the document is weaker evidence than a neighbour.
                if not (0 <= oi < len(self.old)) and not (0 <= nj < len(self.new)):
                    score += 0.25
                continue
            o_n, n_n = self.old[oi], self.new[nj]
            mapped = self.result.new_for(o_n.id)
            if mapped is n_n or (
                mapped is None and self.old_text[o_n.id] == self.new_text[id(n_n)]
            ):
                score += 0.5
        return score

    def ratio(self, old: Paragraph, new: Paragraph) -> float:
        key = (old.id, id(new))
        if key not in self._ratios:
            a, b = self.old_text[old.id], self.new_text[id(new)]
            matcher = SequenceMatcher(None, a, b, autojunk=False)
            # Cheap upper bounds first: most pairs are nowhere near each other.
            if (
                matcher.real_quick_ratio() < FUZZY_THRESHOLD
                or matcher.quick_ratio() < FUZZY_THRESHOLD
            ):
                self._ratios[key] = 0.0
            else:
                self._ratios[key] = matcher.ratio()
        return self._ratios[key]

    # passes
    def explicit(self) -> None:
        old_by_id = {p.id: p for p in self.old}
        for new in self.new:
            old = old_by_id.get(new.previous_id) if new.previous_id else None
            if old is not None and old.id not in self.result.pairs:
                self._assign(old, new, "explicit")

    def exact(self) -> None:
        groups_old: dict[str, list[Paragraph]] = {}
        for p in self.free_old():
            groups_old.setdefault(self.old_text[p.id], []).append(p)
        groups_new: dict[str, list[Paragraph]] = {}
        for p in self.free_new():
            groups_new.setdefault(self.new_text[id(p)], []).append(p)
        twins = []
        for text, olds in groups_old.items():
            news = groups_new.get(text)
            if not news or not text:
                continue
            if len(olds) == 1 and len(news) == 1:
                self._assign(olds[0], news[0], "exact")
            else:
                twins.append((olds, news))
        # Identical twins (e.g. two "Deleted." paragraphs): pair those whose neighbours agree.
        for olds, news in twins:
            pairs = sorted(
                (
                    (self.context(o, n), -abs(self.old_index[o.id] - self.new_index[id(n)]), o, n)
                    for o in olds
                    for n in news
                ),
                key=lambda t: (t[0], t[1]),
                reverse=True,
            )
            for _score, _distance, o, n in pairs:
                if o.id not in self.result.pairs and id(n) not in self.taken_new:
                    self._assign(o, n, "exact")

    def fuzzy(self) -> None:
        while True:
            free_new = self.free_new()
            free_old = self.free_old()
            if not free_new or not free_old:
                return
            best: tuple[float, Paragraph, Paragraph] | None = None
            scored: dict[tuple[int, int], float] = {}
            for o in free_old:
                for n in free_new:
                    r = self.ratio(o, n)
                    if r >= FUZZY_THRESHOLD:
                        scored[(o.id, id(n))] = r + CONTEXT_WEIGHT * self.context(o, n)
            if not scored:
                return
            by_old: dict[int, list[float]] = {}
            by_new: dict[int, list[float]] = {}
            for (o_id, n_key), s in scored.items():
                by_old.setdefault(o_id, []).append(s)
                by_new.setdefault(n_key, []).append(s)
            old_by_id = {p.id: p for p in free_old}
            new_by_key = {id(p): p for p in free_new}
            for (o_id, n_key), s in scored.items():
                # Clear winner on both sides: no rival candidate within TIE_MARGIN.
                if sum(1 for other in by_old[o_id] if other >= s - TIE_MARGIN) > 1:
                    continue
                if sum(1 for other in by_new[n_key] if other >= s - TIE_MARGIN) > 1:
                    continue
                if s < max(by_old[o_id]) or s < max(by_new[n_key]):
                    continue
                if best is None or s > best[0]:
                    best = (s, old_by_id[o_id], new_by_key[n_key])
            if best is None:
                return  # only ambiguous candidates remain: staff decide
            self._assign(best[1], best[2], "fuzzy")


def match_paragraphs(old: Sequence[Paragraph], new: Sequence[Paragraph]) -> ParagraphMatch:
    matcher = _Matcher(old, new)
    matcher.explicit()
    matcher.exact()
    matcher.fuzzy()
    return matcher.result


def _keep_anchors(match: ParagraphMatch, new_paragraphs: Sequence[Paragraph], old_by_id) -> None:
    """Matched paragraphs inherit their predecessor's anchor; others keep theirs unless that
    anchor is now taken, in which case they get a fresh one. Two flushes, so the unique
    (version, anchor) constraint never sees a half-swapped state."""
    wanted: dict[int, str] = {}
    for old_id, (new, _how) in match.pairs.items():
        new.previous_id = old_id
        wanted[id(new)] = old_by_id[old_id].anchor
    taken = set(wanted.values())
    for new in new_paragraphs:
        if id(new) not in wanted:
            anchor = new.anchor
            while anchor in taken:
                anchor = f"p-{secrets.token_hex(4)}"
            wanted[id(new)] = anchor
            taken.add(anchor)
    if all(new.anchor == wanted[id(new)] for new in new_paragraphs):
        return
    for new in new_paragraphs:
        new.anchor = f"tmp-{secrets.token_hex(8)}"
    db.session.flush()
    for new in new_paragraphs:
        new.anchor = wanted[id(new)]
    db.session.flush()


# --- carrying comments ------------------------------------------------------------------------


@dataclass
class CarryReport:
    carried: int = 0  # placed on a paragraph of the new version
    whole_document: int = 0
    needs_placing: int = 0
    by_method: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.carried + self.whole_document + self.needs_placing


def comments_on_version(version: DocumentVersion) -> list[Comment]:
    """Live top-level comments whose current home is ``version``: those made in its rounds and
    not yet carried on, and those carried to it from earlier versions."""
    rounds = select(ReviewRound.id).where(ReviewRound.version_id == version.id)
    stmt = (
        select(Comment)
        .where(
            Comment.parent_id.is_(None),
            Comment.status == CommentStatus.ACTIVE.value,
            or_(
                Comment.carried_to_version_id == version.id,
                and_(Comment.carried_to_version_id.is_(None), Comment.round_id.in_(rounds)),
            ),
        )
        .order_by(Comment.id)
    )
    return list(db.session.scalars(stmt))


def _current_paragraph_id(comment: Comment, version: DocumentVersion) -> int | None:
    if comment.carried_to_version_id == version.id:
        return comment.current_paragraph_id
    return comment.paragraph_id


def carry_comments(
    old_version: DocumentVersion, new_version: DocumentVersion, actor=None
) -> CarryReport:
    """Move every live comment on ``old_version`` to its paragraph in ``new_version``.

    Called by ``services.publish_version`` inside the publishing transaction (never commits).
    """
    if old_version.document_id != new_version.document_id or old_version.id == new_version.id:
        raise ValidationError({"version": _("Comments move between versions of one document.")})
    db.session.flush()  # the new version's paragraphs need ids
    old_paragraphs = list(
        db.session.scalars(
            select(Paragraph)
            .where(Paragraph.version_id == old_version.id)
            .order_by(Paragraph.position)
        )
    )
    new_paragraphs = list(
        db.session.scalars(
            select(Paragraph)
            .where(Paragraph.version_id == new_version.id)
            .order_by(Paragraph.position)
        )
    )
    old_by_id = {p.id: p for p in old_paragraphs}
    match = match_paragraphs(old_paragraphs, new_paragraphs)
    _keep_anchors(match, new_paragraphs, old_by_id)

    report = CarryReport()
    for comment in comments_on_version(old_version):
        source_id = _current_paragraph_id(comment, old_version)
        needed_placing = (
            comment.carried_to_version_id == old_version.id
            and comment.placement == Placement.NEEDS_PLACING.value
        )
        comment.carried_to_version_id = new_version.id
        if needed_placing:
            # Never placed in version n: it now waits in the queue of n+1.
            comment.current_paragraph_id = None
            report.needs_placing += 1
            continue
        if source_id is None:
            comment.current_paragraph_id = None
            comment.placement = Placement.PLACED.value
            report.whole_document += 1
            continue
        target = match.new_for(source_id)
        if target is None:
            comment.current_paragraph_id = None
            comment.placement = Placement.NEEDS_PLACING.value
            report.needs_placing += 1
        else:
            comment.current_paragraph_id = target.id
            comment.placement = Placement.PLACED.value
            report.carried += 1
            how = match.how(source_id) or "?"
            report.by_method[how] = report.by_method.get(how, 0) + 1
    db.session.flush()
    record_audit(
        "carry-comments",
        new_version,
        summary=(
            f"Version {old_version.number} → {new_version.number}: {report.carried} placed, "
            f"{report.whole_document} on the whole document, {report.needs_placing} need placing"
        ),
        after={"paragraphs_matched": len(match.pairs), **report.by_method},
        actor_id=actor_id(actor),
    )
    return report


def previous_published_version(version: DocumentVersion) -> DocumentVersion | None:
    return db.session.scalars(
        select(DocumentVersion)
        .where(
            DocumentVersion.document_id == version.document_id,
            DocumentVersion.number < version.number,
            DocumentVersion.status == VersionStatus.PUBLISHED.value,
        )
        .order_by(DocumentVersion.number.desc())
        .limit(1)
    ).first()


def carry_from_previous(version: DocumentVersion, actor=None) -> CarryReport | None:
    """The hook for publishing: carry from the latest earlier published version, if any."""
    previous = previous_published_version(version)
    if previous is None:
        return None
    return carry_comments(previous, version, actor)


# --- the "needs placing" queue ----------------------------------------------------------------


def needs_placing(version: DocumentVersion) -> list[Comment]:
    stmt = select(Comment).where(
        Comment.carried_to_version_id == version.id,
        Comment.placement == Placement.NEEDS_PLACING.value,
        Comment.parent_id.is_(None),
    )
    stmt = document_order(stmt).options(
        selectinload(Comment.author),
        selectinload(Comment.organization),
        selectinload(Comment.paragraph),
        selectinload(Comment.round),
    )
    return list(db.session.scalars(stmt))


def place_comment(
    comment: Comment, version: DocumentVersion, paragraph: Paragraph | None, actor
) -> Comment:
    """Staff put a comment from the queue on a paragraph of ``version`` (None = whole document)."""
    if actor is not None and not can_dispose(actor):
        raise PermissionDenied("Only staff may place comments.")
    if comment.carried_to_version_id != version.id:
        raise ValidationError(
            {"paragraph": _("This comment is not waiting in this version's queue.")}
        )
    if paragraph is not None and paragraph.version_id != version.id:
        raise ValidationError({"paragraph": _("Choose a paragraph of this version.")})
    before = {"current_paragraph_id": comment.current_paragraph_id, "placement": comment.placement}
    comment.current_paragraph_id = paragraph.id if paragraph is not None else None
    comment.placement = Placement.PLACED.value
    db.session.flush()
    record_audit(
        "place",
        comment,
        summary=(
            f"Comment #{comment.id} placed on ¶{paragraph.number or paragraph.position + 1}"
            if paragraph is not None
            else f"Comment #{comment.id} placed on the whole document"
        ),
        before=before,
        after={
            "current_paragraph_id": comment.current_paragraph_id,
            "placement": comment.placement,
        },
        actor_id=actor_id(actor),
    )
    return comment


# --- "what we heard, what we did" -------------------------------------------------------------


@dataclass
class HeardComment:
    comment: Comment
    who: str  # as this viewer may see it
    landed: str  # where it is now, in words
    landed_url: str | None = None


@dataclass
class HeardParagraph:
    paragraph: Paragraph | None  # None = the whole document
    comments: list[HeardComment]


def _landed(comment: Comment, version_url) -> tuple[str, str | None]:
    version = comment.carried_to_version
    if version is None:
        return _("No later version yet."), None
    if comment.placement == Placement.NEEDS_PLACING.value:
        return _("Version %(n)d: being placed by the secretariat.", n=version.number), None
    paragraph = comment.current_paragraph
    if paragraph is None:
        return _("Version %(n)d: the whole document.", n=version.number), version_url(version, None)
    label = paragraph.number if paragraph.number is not None else paragraph.position + 1
    return (
        _("Version %(n)d, paragraph %(p)s.", n=version.number, p=label),
        version_url(version, paragraph),
    )


def heard_query(review_round: ReviewRound, viewer):
    """The round's live top-level comments this viewer may read on "what we heard"
    (``permissions.heard_comments_filter``), in document order, with what the page shows."""
    stmt = select(Comment).where(heard_comments_filter(viewer, review_round))
    return document_order(stmt).options(
        selectinload(Comment.author),
        selectinload(Comment.organization),
        selectinload(Comment.paragraph),
        selectinload(Comment.disposition),
        selectinload(Comment.current_paragraph),
        selectinload(Comment.carried_to_version),
    )


def heard(
    review_round: ReviewRound, viewer, version_url, comments: Sequence[Comment] | None = None
) -> list[HeardParagraph]:
    """Per paragraph of the round's version (whole document first): each live comment, its
    answer and where it landed. ``version_url(version, paragraph)`` links to a version;
    ``comments`` (one page of ``heard_query``) defaults to all of them."""
    if comments is None:
        comments = db.session.scalars(heard_query(review_round, viewer)).all()
    groups: list[HeardParagraph] = []
    for comment in comments:
        if not groups or groups[-1].paragraph is not comment.paragraph:
            groups.append(HeardParagraph(paragraph=comment.paragraph, comments=[]))
        landed, url = _landed(comment, version_url)
        groups[-1].comments.append(
            HeardComment(
                comment=comment,
                who=author_label(comment, viewer, you=True),
                landed=landed,
                landed_url=url,
            )
        )
    return groups
