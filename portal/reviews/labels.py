"""Words for review objects, shared by pages, mail, notices and exports (no use cases here, so
any review module may import it without a cycle).

How a comment's author is named to a viewer is one function for every page, "what we heard",
the API and exports shown to reviewers. *Whether* the name is shown is decided by
``permissions.sees_author``; this only chooses the words.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from portal.core.dates import format_when
from portal.core.models import as_utc
from portal.reviews import permissions
from portal.reviews.models import Comment, CommentType, Decision, ReviewRound

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


def format_round_time(round_: ReviewRound, value: datetime) -> str:
    """A round's times are shown in its own time zone, with the zone named."""
    try:
        tz = ZoneInfo(round_.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return f"{format_when(as_utc(value), tz.key)} ({tz.key})"


def author_name(comment: Comment) -> str:
    name = comment.author.name if comment.author else _("(deleted account)")
    if comment.organization is not None:
        name = f"{name} ({comment.organization.name})"
    return name


def author_label(comment: Comment, viewer, *, you: bool = False) -> str:
    """The author as ``viewer`` may see them. ``you=True`` says "You" for the viewer's own
    comments (the "what we heard" page)."""
    knows_all = permissions.knows_anonymous_authors(viewer)
    if you and not knows_all and permissions.is_own_comment(viewer, comment):
        return _("You")
    if permissions.sees_author(viewer, comment):
        name = author_name(comment)
        if comment.anonymous and knows_all:
            name = f"{name} — " + _("anonymous to other reviewers")
        return name
    if comment.anonymous and comment.round.reviewers_see_each_other:
        return _("Anonymous reviewer")
    return _("A reviewer")
