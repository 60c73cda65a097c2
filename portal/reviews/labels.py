"""How a comment's author is named to a viewer — one function for every page, "what we
heard", the API and exports shown to reviewers. *Whether* the name is shown is decided by
``permissions.sees_author``; this only chooses the words."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.reviews import permissions
from portal.reviews.models import Comment


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
