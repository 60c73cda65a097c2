"""Commenting in a round: the comment form and thread of a paragraph (or the whole document),
editing and withdrawing one's own comment, and hiding a comment (moderation)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import exists, select

from portal.core.forms import ConfirmForm
from portal.core.guard import can, ensure, require
from portal.core.security import safe_next
from portal.core.transaction import attempt, refuse
from portal.extensions import db
from portal.reviews import permissions, services
from portal.reviews.endorsements import summarise
from portal.reviews.forms import CommentForm, EditCommentForm, HideCommentForm
from portal.reviews.models import Comment, Paragraph, ReviewRound
from portal.reviews.web import bp, round_or_404


def _paragraph_by_anchor(round_: ReviewRound, anchor: str | None) -> Paragraph | None:
    if not anchor:
        return None
    paragraph = db.session.scalar(
        select(Paragraph).where(
            Paragraph.version_id == round_.version_id, Paragraph.anchor == anchor
        )
    )
    if paragraph is None:
        abort(404)
    return paragraph


def _thread(round_: ReviewRound, paragraph: Paragraph | None) -> list[Comment]:
    """Top-level comments (with their replies) on one paragraph or on the whole document."""
    where = [permissions.visible_comments_filter(current_user, round_), Comment.parent_id.is_(None)]
    where.append(
        Comment.paragraph_id == paragraph.id
        if paragraph is not None
        else Comment.paragraph_id.is_(None)
    )
    return db.session.scalars(select(Comment).where(*where).order_by(Comment.created_at)).all()


def _visible_replies(comment: Comment) -> list[Comment]:
    return [r for r in comment.replies if permissions.sees_reply(current_user, comment, r)]


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _reviewer_of(round_: ReviewRound) -> bool:
    return permissions.is_reviewer_of(current_user, round_)


def _sign_in_url(round_: ReviewRound, paragraph: Paragraph | None) -> str:
    """Login, then back to the comment form of this paragraph (public rounds' visitors)."""
    back = url_for("reviews.comment", round_id=round_.id, p=paragraph.anchor if paragraph else None)
    return url_for("accounts.login", next=back)


@bp.route("/rounds/<int:round_id>/comment", methods=["GET", "POST"])
def comment(round_id: int):
    """The thread of a paragraph (or the whole document) and the comment form. Readable by
    anyone who may see the round (everyone on a public round); commenting needs an account."""
    round_ = round_or_404(round_id)
    signed_in = permissions.is_signed_in(current_user)
    if request.method == "POST" and not signed_in:
        # A visitor on a public round: sign in (or get an account) first, then come back.
        return redirect(
            _sign_in_url(round_, _paragraph_by_anchor(round_, request.form.get("paragraph")))
        )
    form = CommentForm()
    anchor = request.values.get("p") or form.paragraph.data or None
    paragraph = _paragraph_by_anchor(round_, anchor)
    parent = None
    reply_to = _int_or_none(request.values.get("reply_to") or form.reply_to.data)
    if reply_to is not None:
        parent = db.session.get(Comment, reply_to)
        if parent is None or parent.round_id != round_.id:
            abort(404)
        if not db.session.scalar(
            select(
                exists().where(
                    Comment.id == parent.id,
                    permissions.visible_comments_filter(current_user, round_),
                )
            )
        ):
            abort(403)
        paragraph = parent.paragraph
    if request.method == "GET":
        form.paragraph.data = anchor or ""
        form.reply_to.data = str(reply_to) if reply_to else ""
        if request.args.get("quote") and paragraph is not None:
            form.quote.data = request.args["quote"][:5000]
            form.quote_start.data = request.args.get("qs", "")[:10]
    general: list[str] = []
    status = 200
    allowed = permissions.can_comment(current_user, round_)
    if request.method == "POST":
        if not _reviewer_of(round_):
            abort(403, _("You are not invited to review in this round."))
        if form.validate_on_submit():
            try:
                outcome = attempt(
                    services.post_comment,
                    round_,
                    current_user,
                    paragraph=paragraph,
                    body=form.body.data,
                    comment_type=form.comment_type.data,
                    proposed_change=form.proposed_change.data,
                    quote=form.quote.data if paragraph is not None and parent is None else None,
                    # With a quote, quote_start only says which occurrence was selected.
                    quote_start=_int_or_none(form.quote_start.data),
                    quote_end=_int_or_none(form.quote_end.data) if not form.quote.data else None,
                    parent=parent,
                    anonymous=bool(form.anonymous.data),
                    language=form.language.data or None,
                    form=form,
                )
            except services.CommentingClosed as err:
                refuse()
                general, status = [err.message], 409
            else:
                if outcome:
                    flash(_("Your comment has been saved."), "success")
                    return redirect(
                        url_for(
                            "reviews.comment",
                            round_id=round_.id,
                            p=paragraph.anchor if paragraph else None,
                        )
                        + f"#comment-{outcome.value.id}"
                    )
                general, status = outcome.errors, 400
        else:
            status = 400
    thread = _thread(round_, paragraph)
    return (
        render_template(
            "reviews/comment.html",
            round=round_,
            document=round_.version.document,
            paragraph=paragraph,
            parent=parent,
            thread=thread,
            endorsements=summarise(current_user, thread),
            replies_of=_visible_replies,
            form=form,
            general=general,
            allowed=allowed,
            closed_message=None
            if allowed or not _reviewer_of(round_)
            else services._closed_message(round_),
            can_change=lambda c: can("change_comment", c),
            confirm_form=ConfirmForm(),
            sign_in_url=(
                _sign_in_url(round_, paragraph)
                if not signed_in and permissions.round_state(round_).name == "OPEN"
                else None
            ),
        ),
        status,
    )


def _own_comment_or_404(comment_id: int) -> Comment:
    found = db.session.get(Comment, comment_id)
    if found is None:
        abort(404)
    round_or_404(found.round_id)
    if found.author_id != current_user.id:
        abort(403)
    return found


def comment_url(c: Comment) -> str:
    anchor = c.paragraph.anchor if c.paragraph is not None else None
    return url_for("reviews.comment", round_id=c.round_id, p=anchor) + f"#comment-{c.id}"


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_comment(comment_id: int):
    found = _own_comment_or_404(comment_id)
    form = EditCommentForm(obj=found if request.method == "GET" else None)
    general: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                outcome = attempt(
                    services.edit_comment,
                    found,
                    current_user,
                    body=form.body.data,
                    comment_type=form.comment_type.data,
                    proposed_change=form.proposed_change.data,
                    form=form,
                )
            except services.CommentingClosed as err:
                refuse()
                general, status = [err.message], 409
            else:
                if outcome:
                    flash(_("Your comment has been updated."), "success")
                    return redirect(comment_url(found))
                general, status = outcome.errors, 400
        else:
            status = 400
    return render_template(
        "reviews/comment_edit.html", comment=found, form=form, general=general
    ), status


@bp.route("/comments/<int:comment_id>/withdraw", methods=["POST"])
@login_required
def withdraw_comment(comment_id: int):
    found = _own_comment_or_404(comment_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw_comment(found, current_user)
    except services.CommentingClosed as err:
        refuse()
        flash(err.message, "error")
        return redirect(comment_url(found)), 303
    flash(_("Your comment has been withdrawn."), "success")
    return redirect(comment_url(found))


@bp.route("/comments/<int:comment_id>/hide", methods=["GET", "POST"])
@require("moderate_reviews")
def hide_comment(comment_id: int):
    found = db.session.get(Comment, comment_id)
    if found is None:
        abort(404)
    ensure("view_review_round", found.round)
    form = HideCommentForm()
    general: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            outcome = attempt(
                services.hide_comment, found, form.reason.data, current_user, form=form
            )
            if outcome:
                flash(_("The comment is hidden and its author has been told why."), "success")
                return redirect(comment_url(found))
            general, status = outcome.errors, 400
        else:
            status = 400
    return render_template(
        "reviews/comment_hide.html", comment=found, form=form, general=general
    ), status


# --- Endorsements ("+1") ----------------------------------------------------------------------


@bp.route("/comments/<int:comment_id>/endorse", methods=["POST"])
def endorse_comment(comment_id: int):
    """Endorse a comment, or withdraw one's endorsement (field ``do``): a plain form, so it works
    without JavaScript; back to the same comment (``next``, or its thread) afterwards. ``do``
    is "endorse" or "withdraw" — not named ``action``, which would shadow the form's own
    ``action`` property in scripts."""
    found = db.session.get(Comment, comment_id)
    if found is None:
        abort(404)
    round_or_404(found.round_id)
    back = safe_next(request.form.get("next")) or comment_url(found)
    if "#" not in back:
        back += f"#comment-{found.id}"
    if not permissions.is_signed_in(current_user):
        # A visitor on a public round: sign in (or get an account), then back to the comment.
        return redirect(url_for("accounts.login", next=back))
    if not permissions.sees_comment(current_user, found):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    action = request.form.get("do")
    if action not in ("endorse", "withdraw"):
        abort(400)
    use_case = services.endorse_comment if action == "endorse" else services.withdraw_endorsement
    try:
        outcome = attempt(use_case, found, current_user)
    except services.CommentingClosed as err:
        refuse()
        flash(err.message, "error")
        return redirect(back, 303)
    if outcome:
        flash(
            _("You endorse this comment.")
            if action == "endorse"
            else _("Your endorsement is withdrawn."),
            "success",
        )
    else:
        flash(" ".join(outcome.errors), "error")
    return redirect(back, 303)
