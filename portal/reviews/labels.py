"""How a comment's author is named to a viewer — one function for every page, "what we
heard", the API and exports shown to reviewers. *Whether* the name is shown is decided by
``permissions.sees_author``; this only chooses the words."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from portal.reviews import permissions
from portal.reviews.models import Comment, CommentType, Decision

# The words for a staff decision and a comment type, in the reader's language (pages, mail,
# the matrix): here, below services and notices, so both can use them without a cycle.
DECISION_LABELS = {
    Decision.ACCEPTED.value: _lp("review decision", "Accepted"),
    Decision.ACCEPTED_IN_PART.value: _l("Accepted in part"),
    Decision.NOTED.value: _l("Noted"),
    Decision.REJECTED.value: _l("Rejected"),
}
COMMENT_TYPE_LABELS = {
    CommentType.GENERAL.value: _l("General"),
    CommentType.TECHNICAL.value: _l("Technical"),
    CommentType.EDITORIAL.value: _l("Editorial"),
}


def decision_label(decision: str | None) -> str:
    return str(DECISION_LABELS.get(decision or "", decision or ""))


def comment_type_label(comment_type: str | None) -> str:
    return str(COMMENT_TYPE_LABELS.get(comment_type or "", comment_type or ""))


def author_name(comment: Comment) -> str:
    name = comment.author.name if comment.author else _("(deleted account)")
    if comment.organization is not None:
        name = f"{name} ({comment.organization.name})"
    return name


def author_label(comment: Comment, viewer, *, you: bool = False) -> str:
    """The author as ``viewer`` may see them. ``you=True`` says "You" for the viewer's own
    comments (the "what we heard" page)."""
    if (
        you
        and permissions.is_signed_in(viewer)
        and not permissions.is_staff(viewer)
        and comment.author_id == viewer.id
    ):
        return _("You")
    if permissions.sees_author(viewer, comment):
        name = author_name(comment)
        if comment.anonymous and permissions.is_staff(viewer):
            name = f"{name} — " + _("anonymous to other reviewers")
        return name
    if comment.anonymous and comment.round.reviewers_see_each_other:
        return _("Anonymous reviewer")
    return _("A reviewer")
