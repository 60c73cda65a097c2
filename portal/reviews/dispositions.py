"""Staff dispositions: the secretariat's answer to each comment, and the staff comment list.

Every top-level comment of a round gets one ``Disposition`` (accepted / accepted in part /
noted / rejected) with a response; a response is required where the reviewer is owed a reason
(rejected, accepted in part). Services follow the house recipe — permission → validate →
change → flush → audit — and never commit; the view commits once.

The staff list filters by paragraph, type, organisation, region (the M49 region of the
organisation's country, so "Africa" finds a Kenyan NGO) and status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import selectinload

from portal.core.audit import record_audit
from portal.core.services import FORM_ERROR, PermissionDenied, ValidationError, actor_id
from portal.extensions import db
from portal.partners.models import Country, Organization, Region
from portal.partners.place_names import place_name
from portal.reviews.labels import (  # noqa: F401 - the vocabularies' home; kept importable here
    COMMENT_TYPE_LABELS,
    DECISION_LABELS,
    comment_type_label,
    decision_label,
)
from portal.reviews.models import (
    Comment,
    CommentStatus,
    Decision,
    Disposition,
    Paragraph,
    ReviewRound,
)
from portal.reviews.permissions import can_manage_reviews

# The reviewer is owed a reason when their comment is not (fully) taken up.
RESPONSE_REQUIRED = {Decision.REJECTED.value, Decision.ACCEPTED_IN_PART.value}
MAX_RESPONSE_LENGTH = 10_000
MAX_BULK = 500  # one bulk action; a page shows at most 100 comments anyway

STATUS_FILTERS = ("all", "answered", "unanswered", "hidden")
WHOLE_DOCUMENT = "document"  # the paragraph filter value for comments on the whole document


def can_dispose(user) -> bool:
    return can_manage_reviews(user)


def _require_staff(actor) -> None:
    # actor=None is a trusted command-line caller (imports, benchmarks) with no user.
    if actor is not None and not can_dispose(actor):
        raise PermissionDenied("Only staff may answer comments.")


# --- use cases --------------------------------------------------------------------------------


def _validate(decision: str | None, response: str | None) -> tuple[str, str]:
    errors: dict[str, str] = {}
    decision = (decision or "").strip()
    response = (response or "").strip()
    if decision not in DECISION_LABELS:
        errors["decision"] = str(_l("Choose accepted, accepted in part, noted or rejected."))
    elif decision in RESPONSE_REQUIRED and not response:
        errors["response"] = str(
            _l(
                "Say why: a response is required when a comment is %(decision)s.",
                decision=decision_label(decision).lower(),
            )
        )
    if len(response) > MAX_RESPONSE_LENGTH:
        errors["response"] = str(
            _l("Keep the response under %(n)d characters.", n=MAX_RESPONSE_LENGTH)
        )
    if errors:
        raise ValidationError(errors)
    return decision, response


def _check_answerable(comment: Comment) -> None:
    if comment.parent_id is not None:
        raise ValidationError({FORM_ERROR: str(_l("Replies are answered with their comment."))})
    if comment.status == CommentStatus.WITHDRAWN.value:
        raise ValidationError(
            {FORM_ERROR: str(_l("Comment #%(id)d was withdrawn by its author.", id=comment.id))}
        )


def _apply(comment: Comment, actor, decision: str, response: str) -> Disposition:
    existing = comment.disposition
    if existing is None:
        existing = Disposition(comment=comment, decision=decision, response=response)
        db.session.add(existing)
    existing.decision = decision
    existing.response = response
    existing.decided_by_id = actor_id(actor)
    return existing


def dispose_comment(
    comment: Comment, actor, *, decision: str | None, response: str | None
) -> Disposition:
    """Record (or change) the secretariat's answer to one comment."""
    _require_staff(actor)
    decision, response = _validate(decision, response)
    _check_answerable(comment)
    before = (
        {"decision": comment.disposition.decision, "response": comment.disposition.response}
        if comment.disposition
        else {"decision": None, "response": None}
    )
    disposition = _apply(comment, actor, decision, response)
    db.session.flush()
    record_audit(
        "dispose",
        comment,
        summary=f"Comment #{comment.id}: {decision}",
        before=before,
        after={"decision": decision, "response": response},
        actor_id=actor_id(actor),
    )
    from portal.reviews.notices import comment_answered

    comment_answered(comment, disposition, actor)
    return disposition


def dispose_comments(
    comments: Sequence[Comment], actor, *, decision: str | None, response: str | None
) -> list[Disposition]:
    """One decision and response for many comments at once; all or nothing."""
    _require_staff(actor)
    if not comments:
        raise ValidationError({"comment_ids": str(_l("Select at least one comment."))})
    if len(comments) > MAX_BULK:
        raise ValidationError(
            {"comment_ids": str(_l("Select at most %(n)d comments at a time.", n=MAX_BULK))}
        )
    decision, response = _validate(decision, response)
    for comment in comments:
        _check_answerable(comment)
    results = []
    befores = {}
    for comment in comments:
        befores[comment.id] = comment.disposition.decision if comment.disposition else None
        results.append(_apply(comment, actor, decision, response))
    db.session.flush()
    for comment in comments:
        record_audit(
            "dispose",
            comment,
            summary=f"Comment #{comment.id}: {decision} (bulk, {len(comments)} comments)",
            before={"decision": befores[comment.id]},
            after={"decision": decision},
            actor_id=actor_id(actor),
        )
    from portal.reviews.notices import comment_answered

    for comment, disposition in zip(comments, results, strict=True):
        comment_answered(comment, disposition, actor)
    return results


def clear_disposition(comment: Comment, actor) -> None:
    """Take an answer back (e.g. given to the wrong comment): the comment is unanswered again."""
    _require_staff(actor)
    if comment.disposition is None:
        return
    before = {"decision": comment.disposition.decision, "response": comment.disposition.response}
    db.session.delete(comment.disposition)
    db.session.flush()
    record_audit(
        "undispose",
        comment,
        summary=f"Comment #{comment.id}: answer withdrawn",
        before=before,
        after={"decision": None, "response": None},
        actor_id=actor_id(actor),
    )


# --- regions ----------------------------------------------------------------------------------


def region_parents() -> dict[str, str | None]:
    return dict(db.session.execute(select(Region.code, Region.parent_code)).all())


def region_descendants(code: str, parents: dict[str, str | None] | None = None) -> set[str]:
    """The code and every region below it (M49 is a small tree: ~30 rows)."""
    parents = parents if parents is not None else region_parents()
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        if parent:
            children.setdefault(parent, []).append(child)
    out, stack = set(), [code]
    while stack:
        node = stack.pop()
        if node in out:
            continue
        out.add(node)
        stack.extend(children.get(node, []))
    return out


def region_chain(code: str | None, parents: dict[str, str | None]) -> list[str]:
    """The code and its ancestors, smallest first, without World (001)."""
    chain: list[str] = []
    node = code
    while node and node not in chain:
        if node != "001":
            chain.append(node)
        node = parents.get(node)
    return chain


# --- the staff list ---------------------------------------------------------------------------


@dataclass
class CommentFilters:
    paragraph: str = ""  # a paragraph id, WHOLE_DOCUMENT, or "" for all
    comment_type: str = ""
    organization_id: int | None = None
    region: str = ""
    status: str = "all"

    def as_args(self) -> dict[str, str]:
        return {
            "paragraph": self.paragraph,
            "type": self.comment_type,
            "organization": str(self.organization_id or ""),
            "region": self.region,
            "status": self.status if self.status != "all" else "",
        }

    @property
    def active(self) -> bool:
        return any(v for v in self.as_args().values())


def parse_filters(args) -> CommentFilters:
    """Read the filters from a query string; anything not understood is simply ignored."""
    paragraph = (args.get("paragraph") or "").strip()
    if paragraph != WHOLE_DOCUMENT and not paragraph.isdigit():
        paragraph = ""
    comment_type = args.get("type") or ""
    if comment_type not in COMMENT_TYPE_LABELS:
        comment_type = ""
    organization = args.get("organization") or ""
    region = (args.get("region") or "").strip()
    if not (region.isdigit() and len(region) == 3):
        region = ""
    status = args.get("status") or "all"
    if status not in STATUS_FILTERS:
        status = "all"
    return CommentFilters(
        paragraph=paragraph,
        comment_type=comment_type,
        organization_id=int(organization) if organization.isdigit() else None,
        region=region,
        status=status,
    )


def document_order(stmt: Select) -> Select:
    """Whole-document comments first, then by paragraph position, then oldest first."""
    position = select(Paragraph.position).where(Paragraph.id == Comment.paragraph_id)
    position = position.correlate(Comment).scalar_subquery()
    return stmt.order_by(
        Comment.paragraph_id.is_not(None), position, Comment.created_at, Comment.id
    )


def staff_comments_query(review_round: ReviewRound, filters: CommentFilters) -> Select:
    stmt = select(Comment).where(Comment.round_id == review_round.id, Comment.parent_id.is_(None))
    if filters.status == "hidden":
        stmt = stmt.where(Comment.status == CommentStatus.HIDDEN.value)
    else:
        stmt = stmt.where(Comment.status == CommentStatus.ACTIVE.value)
        answered = exists().where(Disposition.comment_id == Comment.id)
        if filters.status == "answered":
            stmt = stmt.where(answered)
        elif filters.status == "unanswered":
            stmt = stmt.where(~answered)
    if filters.paragraph == WHOLE_DOCUMENT:
        stmt = stmt.where(Comment.paragraph_id.is_(None))
    elif filters.paragraph:
        stmt = stmt.where(Comment.paragraph_id == int(filters.paragraph))
    if filters.comment_type:
        stmt = stmt.where(Comment.comment_type == filters.comment_type)
    if filters.organization_id:
        stmt = stmt.where(Comment.organization_id == filters.organization_id)
    if filters.region:
        codes = region_descendants(filters.region)
        in_region = (
            select(Organization.id)
            .join(Country, Organization.country_code == Country.code)
            .where(Country.region_code.in_(codes))
        )
        stmt = stmt.where(Comment.organization_id.in_(in_region))
    return document_order(stmt).options(
        selectinload(Comment.author),
        selectinload(Comment.organization).selectinload(Organization.country),
        selectinload(Comment.paragraph),
        selectinload(Comment.disposition),
        selectinload(Comment.replies).selectinload(Comment.author),
    )


@dataclass
class Progress:
    answered: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0


def round_progress(review_round: ReviewRound) -> Progress:
    """How many of the round's live top-level comments have an answer."""
    live = and_(
        Comment.round_id == review_round.id,
        Comment.parent_id.is_(None),
        Comment.status == CommentStatus.ACTIVE.value,
    )
    total = db.session.scalar(select(func.count(Comment.id)).where(live)) or 0
    answered = (
        db.session.scalar(
            select(func.count(Comment.id))
            .join(Disposition, Disposition.comment_id == Comment.id)
            .where(live)
        )
        or 0
    )
    return Progress(answered=answered, total=total)


def comments_for_bulk(review_round: ReviewRound, ids: Iterable[int]) -> list[Comment]:
    """The round's comments with these ids (ids of other rounds are silently not found)."""
    wanted = sorted({int(i) for i in ids})[: MAX_BULK + 1]
    if not wanted:
        return []
    return list(
        db.session.scalars(
            select(Comment)
            .where(Comment.round_id == review_round.id, Comment.id.in_(wanted))
            .options(selectinload(Comment.disposition))
            .order_by(Comment.id)
        )
    )


def filter_choices(review_round: ReviewRound) -> dict:
    """Options for the filter form: only paragraphs, organisations and regions that occur."""
    paragraphs = list(
        db.session.scalars(
            select(Paragraph)
            .where(Paragraph.version_id == review_round.version_id)
            .order_by(Paragraph.position)
        )
    )
    orgs = list(
        db.session.scalars(
            select(Organization)
            .where(
                Organization.id.in_(
                    select(Comment.organization_id).where(Comment.round_id == review_round.id)
                )
            )
            .order_by(Organization.name)
        )
    )
    parents = region_parents()
    country_regions = {
        o.country.region_code for o in orgs if o.country is not None and o.country.region_code
    }
    codes: set[str] = set()
    for code in country_regions:
        codes.update(region_chain(code, parents))
    regions = (
        list(
            db.session.scalars(
                select(Region).where(Region.code.in_(codes)).order_by(Region.level, Region.name)
            )
        )
        if codes
        else []
    )
    return {"paragraphs": paragraphs, "organizations": orgs, "regions": regions}


def organization_region_name(org: Organization | None, names: dict[str, str]) -> str:
    if org is None or org.country is None or not org.country.region_code:
        return ""
    return names.get(org.country.region_code, "")


def region_names() -> dict[str, str]:
    region_rows = db.session.execute(select(Region.code, Region.name))
    return {code: place_name(name) for code, name in region_rows}
