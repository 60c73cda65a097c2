"""Notification events raised by reviews: a comment answered by the secretariat, a reply."""

from __future__ import annotations

import hashlib

from flask_babel import gettext as _

from portal.notifications.events import Notice, notify, recipient
from portal.notifications.links import absolute_url
from portal.reviews.models import Comment, Disposition


def _round_group(comment: Comment) -> dict:
    round_ = comment.round
    return {
        "group_key": f"review-round:{round_.id}",
        "group_title": f"{round_.version.document.title} — {round_.title}",
    }


def _comment_link(comment: Comment) -> str:
    anchor = comment.parent_id or comment.id
    return absolute_url("reviews.show_round", round_id=comment.round_id) + f"#comment-{anchor}"


def comment_answered(comment: Comment, disposition: Disposition, actor) -> int:
    """The author hears that the secretariat answered (or changed its answer to) a comment.
    The same answer saved twice notifies once; a different answer is news again."""
    from portal.reviews.labels import decision_label

    author = comment.author
    if author is None:
        return 0
    digest = hashlib.sha256(f"{disposition.decision}\n{disposition.response}".encode()).hexdigest()[
        :16
    ]
    document = comment.round.version.document.title
    return notify(
        [author],
        Notice(
            kind="comment-answered",
            key=f"comment-answered:{comment.id}:{digest}",
            subject=lambda: _("Your comment on “%(title)s” was answered", title=document),
            summary=lambda: _(
                "Your comment #%(id)d was answered: %(decision)s",
                id=comment.id,
                decision=decision_label(disposition.decision),
            ),
            template="notification",
            link=_comment_link(comment),
            context={
                "intro_fn": lambda: _(
                    "The secretariat answered your comment on “%(title)s”.", title=document
                ),
                "details_fn": lambda: [
                    (_("Your comment:"), comment.body),
                    (_("Decision:"), decision_label(disposition.decision)),
                    (_("Answer:"), disposition.response),
                ],
            },
            **_round_group(comment),
        ),
        exclude=actor,
    )


def comment_replied(reply: Comment, actor) -> int:
    """The author of the comment replied to hears of the reply (not of their own replies)."""
    parent = reply.parent
    if parent is None or parent.author is None:
        return 0
    document = reply.round.version.document.title
    if reply.anonymous:
        who = None
    else:
        who = reply.author.name if reply.author else None
    return notify(
        [parent.author],
        Notice(
            kind="comment-reply",
            key=f"comment-reply:{reply.id}",
            subject=lambda: _("New reply to your comment on “%(title)s”", title=document),
            summary=lambda: (
                _("%(name)s replied to your comment #%(id)d", name=who, id=parent.id)
                if who
                else _("A reviewer replied to your comment #%(id)d", id=parent.id)
            ),
            template="notification",
            link=_comment_link(reply),
            context={
                "intro_fn": lambda: (
                    _("%(name)s replied to your comment on “%(title)s”.", name=who, title=document)
                    if who
                    else _("A reviewer replied to your comment on “%(title)s”.", title=document)
                ),
                "details_fn": lambda: [
                    (_("Your comment:"), parent.body),
                    (_("Reply:"), reply.body),
                ],
            },
            **_round_group(reply),
        ),
        exclude=actor,
    )


def round_closed_early(round_, actor) -> int:
    """Invitees with an account (who have not unsubscribed from the round) hear that the
    deadline moved: the round closed now."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.reviews.models import ReviewInvitation
    from portal.reviews.times import format_round_time, reader_timezones

    invitations = db.session.scalars(
        select(ReviewInvitation).where(
            ReviewInvitation.round_id == round_.id,
            ReviewInvitation.user_id.is_not(None),
            ReviewInvitation.unsubscribed_at.is_(None),
        )
    ).all()
    document = round_.version.document.title
    zones = reader_timezones(i.user_id for i in invitations)

    def summary() -> str:
        # Called in each recipient's locale: the date in their words and their own zone.
        reader = recipient()
        zone = zones.get(reader.id) if reader is not None else None
        when = format_round_time(round_, round_.closes_at, zone)
        return _("Comments on “%(title)s” closed early, on %(when)s", title=document, when=when)

    return notify(
        [i.user for i in invitations],
        Notice(
            kind="round-changed",
            key=f"round-closed:{round_.id}",
            subject=lambda: _("Review round closed: %(title)s", title=document),
            summary=summary,
            template="notification",
            link=absolute_url("reviews.show_round", round_id=round_.id),
            group_key=f"review-round:{round_.id}",
            group_title=f"{document} — {round_.title}",
            context={"intro_fn": summary, "details_fn": lambda: []},
        ),
        exclude=actor,
    )
