"""Who may see and do what in reviews (DESIGN §2). Views, services and search use these.

- Staff see every document, version, round and comment (including who wrote anonymous ones).
- A reviewer sees the published versions of a document they are invited to review (any round
  on any version of it that has been opened), and comments in a round only if the round lets
  reviewers see each other's comments (their own always).
- Commenting needs an invitation (or staff) and an open round (between opens_at and
  closes_at). Unsubscribing only stops e-mail; it never takes the right to comment away.
- A *public* round (a public consultation, ``ReviewRound.public``) once opened is readable by
  anyone, without an account: its draft (every published version of the document), the
  comments as a reviewer would see them (per "reviewers see each other's comments" and
  anonymity), the answers and "what we heard". It stays readable after it closes (the public
  record). Any signed-in account may comment while it is open. Draft rounds stay closed.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import and_, exists, false, or_, select, true

# The one definition of "signed in" and "staff" (active accounts only), re-exported here.
from portal.accounts.permissions import is_signed_in as is_signed_in
from portal.accounts.permissions import is_staff as is_staff
from portal.core.guard import permission
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.reviews.models import (
    Comment,
    CommentStatus,
    DocumentVersion,
    DraftDocument,
    ReviewInvitation,
    ReviewRound,
    RoundStatus,
    VersionStatus,
)


@permission("manage_reviews")
def can_manage_reviews(user) -> bool:
    """Draft documents, versions, rounds, answers, matrices: staff."""
    return is_staff(user)


@permission("manage_reviews_round")
def can_manage_round(user, round_: ReviewRound) -> bool:
    """Steer a round (reviewers, deadline, closing, reopening), answer its comments."""
    return is_staff(user)


@permission("moderate_reviews")
def can_moderate(user) -> bool:
    return is_staff(user)


def is_public_round(round_: ReviewRound) -> bool:
    """An opened public consultation: readable by anyone."""
    return bool(round_.public) and round_.status != RoundStatus.DRAFT.value


def public_rounds_filter():
    """SQL condition on ReviewRound: opened public rounds."""
    return and_(ReviewRound.public.is_(True), ReviewRound.status != RoundStatus.DRAFT.value)


def _reads_as_reviewer(user, round_: ReviewRound) -> bool:
    """Whether the viewer reads the round's comments as a reviewer does: signed in, or anyone
    on a public round."""
    return is_signed_in(user) or is_public_round(round_)


def invited_filter(user):
    """SQL condition on ReviewInvitation: the invitation belongs to this user (by account or,
    for invitations made before the account existed, by address)."""
    if not is_signed_in(user):
        return false()
    return or_(ReviewInvitation.user_id == user.id, ReviewInvitation.email == user.email.lower())


def is_invited(user, round_: ReviewRound) -> bool:
    if not is_signed_in(user):
        return False
    return bool(
        db.session.scalar(
            select(exists().where(ReviewInvitation.round_id == round_.id, invited_filter(user)))
        )
    )


def invited_rounds_filter(user):
    """SQL condition on ReviewRound: rounds (opened, not drafts) the user is invited to."""
    if not is_signed_in(user):
        return false()
    return and_(
        ReviewRound.status != RoundStatus.DRAFT.value,
        ReviewRound.id.in_(select(ReviewInvitation.round_id).where(invited_filter(user))),
    )


def visible_documents_filter(user):
    """SQL condition on DraftDocument."""
    if is_staff(user):
        return true()
    public = public_rounds_filter()
    if not is_signed_in(user):
        version_ids = select(ReviewRound.version_id).where(public)
    else:
        round_ids = select(ReviewInvitation.round_id).where(invited_filter(user))
        version_ids = select(ReviewRound.version_id).where(
            or_(
                and_(ReviewRound.id.in_(round_ids), ReviewRound.status != RoundStatus.DRAFT.value),
                public,
            )
        )
    doc_ids = select(DocumentVersion.document_id).where(DocumentVersion.id.in_(version_ids))
    return DraftDocument.id.in_(doc_ids)


@permission("view_review_document")
def can_view_document(user, document: DraftDocument) -> bool:
    if is_staff(user):
        return True
    return bool(
        db.session.scalar(
            select(exists().where(DraftDocument.id == document.id, visible_documents_filter(user)))
        )
    )


@permission("view_review_version")
def can_view_version(user, version: DocumentVersion) -> bool:
    if is_staff(user):
        return True
    if version.status != VersionStatus.PUBLISHED.value:
        return False
    return can_view_document(user, version.document)


@permission("view_review_round")
def can_view_round(user, round_: ReviewRound) -> bool:
    if is_staff(user):
        return True
    if is_public_round(round_):
        return True
    return round_.status != RoundStatus.DRAFT.value and is_invited(user, round_)


class RoundState(Enum):
    DRAFT = "draft"
    NOT_YET_OPEN = "not-yet-open"
    OPEN = "open"
    CLOSED = "closed"


def round_state(round_: ReviewRound, now: datetime | None = None) -> RoundState:
    now = now or utcnow()
    if round_.status == RoundStatus.DRAFT.value:
        return RoundState.DRAFT
    if round_.status == RoundStatus.CLOSED.value or now >= as_utc(round_.closes_at):
        return RoundState.CLOSED
    if now < as_utc(round_.opens_at):
        return RoundState.NOT_YET_OPEN
    return RoundState.OPEN


def is_reviewer_of(user, round_: ReviewRound) -> bool:
    """Staff, invited to the round, or any account on a public round: may comment while it
    is open."""
    if is_staff(user):
        return True
    if is_public_round(round_) and is_signed_in(user):
        return True
    return is_invited(user, round_)


@permission("comment_in_round")
def can_comment(user, round_: ReviewRound, now: datetime | None = None) -> bool:
    if not is_reviewer_of(user, round_):
        return False
    return round_state(round_, now) is RoundState.OPEN


@permission("change_comment")
def can_change_comment(user, comment: Comment, now: datetime | None = None) -> bool:
    """Authors edit or withdraw their own active comments until the deadline."""
    if not is_signed_in(user) or comment.author_id != user.id:
        return False
    if comment.status != CommentStatus.ACTIVE.value:
        return False
    return round_state(comment.round, now) is RoundState.OPEN


@permission("see_others_review_comments")
def sees_others_comments(user, round_: ReviewRound) -> bool:
    """Whether the viewer reads other reviewers' comments in the round (staff always)."""
    return is_staff(user) or bool(round_.reviewers_see_each_other)


def knows_anonymous_authors(user) -> bool:
    """Staff see who wrote an anonymous comment (marked as such)."""
    return is_staff(user)


def is_own_comment(user, comment: Comment) -> bool:
    return is_signed_in(user) and comment.author_id == user.id


def sees_comment(user, comment: Comment) -> bool:
    """One comment, in Python (``visible_comments_filter`` is the same rule in SQL)."""
    if is_staff(user) or is_own_comment(user, comment):
        return True
    return (
        _reads_as_reviewer(user, comment.round)
        and bool(comment.round.reviewers_see_each_other)
        and comment.status == CommentStatus.ACTIVE.value
    )


@permission("see_comment_author")
def sees_author(user, comment: Comment) -> bool:
    """THE rule for naming a comment's author (pages, "what we heard", API, search).

    Staff always see who wrote a comment, and authors their own. Other reviewers see a name
    only where the round lets reviewers see each other, and never on an anonymous comment.
    """
    if is_staff(user) or is_own_comment(user, comment):
        return True
    if not comment.round.reviewers_see_each_other:
        return False
    return not comment.anonymous


def visible_comments_filter(user, round_: ReviewRound):
    """SQL condition on Comment for one round: staff see all (hidden ones too, marked);
    reviewers see active comments of others only if the round allows it, and their own."""
    if is_staff(user):
        return Comment.round_id == round_.id
    if not is_signed_in(user):
        if is_public_round(round_) and round_.reviewers_see_each_other:
            return and_(Comment.round_id == round_.id, Comment.status == CommentStatus.ACTIVE.value)
        return false()
    own = Comment.author_id == user.id
    if round_.reviewers_see_each_other:
        return and_(
            Comment.round_id == round_.id, or_(own, Comment.status == CommentStatus.ACTIVE.value)
        )
    return and_(Comment.round_id == round_.id, own)


def sees_reply(user, comment: Comment, reply: Comment) -> bool:
    """Replies under a visible comment: one's own, active replies to one's own comment (the
    secretariat's answer), and other active replies where reviewers see each other."""
    if is_staff(user):
        return True
    if not is_signed_in(user):
        return (
            is_public_round(comment.round)
            and reply.status == CommentStatus.ACTIVE.value
            and bool(comment.round.reviewers_see_each_other)
        )
    if reply.author_id == user.id:
        return True
    if reply.status != CommentStatus.ACTIVE.value:
        return False
    return comment.author_id == user.id or bool(comment.round.reviewers_see_each_other)


@permission("view_heard")
def can_view_heard(user, round_: ReviewRound) -> bool:
    """ "What we heard": staff, the round's invited reviewers, anyone who commented in it, and
    everyone on a public round."""
    if can_view_round(user, round_):
        return True
    return is_signed_in(user) and bool(
        db.session.scalar(
            select(exists().where(Comment.round_id == round_.id, Comment.author_id == user.id))
        )
    )


def heard_comments_filter(user, round_: ReviewRound, now: datetime | None = None):
    """SQL condition on Comment for "what we heard" (live top-level comments of the round).

    While the round is open (or not yet open), a round whose reviewers do not see each other
    shows a reviewer only their own comments there too — the page must not leak what the
    comment pages hide. Once the round has closed, the page reports every live comment, with
    authors named per ``sees_author``. Staff always see all.
    """
    base = and_(
        Comment.round_id == round_.id,
        Comment.parent_id.is_(None),
        Comment.status == CommentStatus.ACTIVE.value,
    )
    if is_staff(user) or round_.reviewers_see_each_other:
        return base
    if round_state(round_, now) is RoundState.CLOSED:
        return base
    if not is_signed_in(user):
        return false()
    return and_(base, Comment.author_id == user.id)


def partner_accounts_filter():
    """SQL condition on User for the "all partners" audience: partner accounts."""
    from portal.accounts.models import Role, User

    return User.role == Role.PARTNER.value


# --- Endorsements ("+1") ----------------------------------------------------------------------


class EndorseRefusal(Enum):
    """Why someone may not endorse a comment (the service words each one for the reader)."""

    SIGN_IN = "sign-in"
    NOT_ALLOWED_IN_ROUND = "not-allowed-in-round"
    OWN_COMMENT = "own-comment"
    CANNOT_SEE = "cannot-see"
    ROUND_NOT_OPEN = "round-not-open"


def endorse_refusal(
    user, comment: Comment, now: datetime | None = None, *, reviewer: bool | None = None
) -> EndorseRefusal | None:
    """THE rule for endorsing, with the reason when refused (None: allowed).

    A round that allows endorsements; a signed-in person who may comment in it (invited,
    staff, or any account on a public round) and who may see the comment under the round's
    rules (``sees_comment``: "reviewers see each other's comments", active comments only);
    never their own comment; top-level comments only (answers are not endorsed); and only
    while the round is open. ``reviewer``: ``is_reviewer_of(user, comment.round)`` when the
    caller already knows it (a page of comments asks once, not once per comment).
    """
    round_ = comment.round
    if not is_signed_in(user):
        return EndorseRefusal.SIGN_IN
    if not round_.allow_endorsements:
        return EndorseRefusal.NOT_ALLOWED_IN_ROUND
    if is_own_comment(user, comment):
        return EndorseRefusal.OWN_COMMENT
    if (
        comment.parent_id is not None
        or comment.status != CommentStatus.ACTIVE.value
        or not (is_reviewer_of(user, round_) if reviewer is None else reviewer)
        or not sees_comment(user, comment)
    ):
        return EndorseRefusal.CANNOT_SEE
    if round_state(round_, now) is not RoundState.OPEN:
        return EndorseRefusal.ROUND_NOT_OPEN
    return None


@permission("endorse_comment")
def can_endorse(user, comment: Comment, now: datetime | None = None) -> bool:
    return endorse_refusal(user, comment, now) is None


def may_withdraw_endorsement(user, comment: Comment, now: datetime | None = None) -> bool:
    """One's own endorsement may be withdrawn while the round is open."""
    return is_signed_in(user) and round_state(comment.round, now) is RoundState.OPEN


@permission("see_endorsers")
def sees_endorsers(user, round_: ReviewRound) -> bool:
    """Whether the viewer may read who endorsed comments, not only how many did: staff, and
    everyone where the round names people anyway (reviewers see each other's comments and the
    round offers no anonymity). An anonymous round shows counts, never names."""
    if is_staff(user):
        return True
    return bool(round_.reviewers_see_each_other) and not round_.allow_anonymous
