"""Review rounds as JSON: read a round's text and the comments one may see; post a comment.

    GET  /api/v1/reviews/rounds/<id>            the round, its state and its paragraphs
    GET  /api/v1/reviews/rounds/<id>/comments   the comments the caller may see
    POST /api/v1/reviews/rounds/<id>/comments   a comment, as the token's owner

For partners who collect comments in their own tools (a ministry gathering its agencies'
remarks, say) and submit them in one go. The rules are the pages' rules, through the same
use case (``portal.reviews.services.post_comment``): invited reviewers and staff only (any
account on a public consultation), only while the round is open, anonymity and "reviewers see
each other" respected. A public consultation is readable without credentials.

POST accepts only ``Authorization: Bearer <token>`` — never the session cookie — so a
cross-site page cannot post in a reviewer's name, and CSRF tokens are not needed.
Errors: 400 ``{"error": …, "errors": {field: message}}`` for bad input, 401 without a token,
403 when not invited, 404 for an unknown round or paragraph, 409 when commenting is closed.
"""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.auth import bearer_token
from portal.api import schemas as s
from portal.api.openapi import OPTIONAL_AUTH, REQUIRED_AUTH, TAGS, api_response, spec
from portal.api.views import bp
from portal.core.models import as_utc
from portal.core.transaction import attempt, refuse
from portal.extensions import csrf, db
from portal.reviews import permissions
from portal.reviews.endorsements import EndorsementSummary, summarise
from portal.reviews.labels import author_label
from portal.reviews.models import Comment, Paragraph, ReviewRound
from portal.reviews.services import CommentingClosed, post_comment


def _visible_round(round_id: int, user) -> ReviewRound:
    round_ = db.session.get(ReviewRound, round_id)
    if round_ is None:
        abort(404)
    if not permissions.can_view_round(user, round_):
        abort(403 if getattr(user, "is_authenticated", False) else 401)
    return round_


def _utc(value):
    return as_utc(value) if value is not None else None


ROUND_ID = {"round_id": "The review round's id."}


@bp.get("/reviews/rounds/<int(min=1):round_id>")
@spec.validate(
    resp=api_response(s.ReviewRoundOut, 401, 403, 404),
    tags=[TAGS["reviews"]],
    security=OPTIONAL_AUTH,
    operation_id="getReviewRound",
    path_parameter_descriptions=ROUND_ID,
)
def review_round(round_id: int):
    """One review round

    The round's state and the text under review, paragraph by paragraph. A public
    consultation needs no credentials; other rounds answer 401 without credentials and 403
    with them when you are not invited (staff see every round).
    """
    round_ = _visible_round(round_id, current_user)
    version = round_.version
    return s.ReviewRoundOut(
        id=round_.id,
        title=round_.title,
        document=version.document.title,
        version=version.number,
        state=permissions.round_state(round_).value,
        opens_at=_utc(round_.opens_at),
        closes_at=_utc(round_.closes_at),
        you_may_comment=permissions.can_comment(current_user, round_),
        paragraphs=[
            s.ParagraphOut(anchor=p.anchor, number=p.number, kind=p.kind, text=p.text)
            for p in version.paragraphs
        ],
    )


def _comment_out(comment: Comment, viewer, endorsements: EndorsementSummary) -> s.CommentOut:
    paragraph = comment.paragraph
    return s.CommentOut(
        id=comment.id,
        paragraph=(
            s.ParagraphRef(anchor=paragraph.anchor, number=paragraph.number) if paragraph else None
        ),
        parent_id=comment.parent_id,
        author=str(author_label(comment, viewer)),
        comment_type=comment.comment_type,
        body=comment.body,
        proposed_change=comment.proposed_change,
        quote=comment.quoted_text,
        status=comment.status,
        created_at=_utc(comment.created_at),
        endorsements=endorsements.count(comment),
        endorsers=endorsements.names_of(comment),
        endorsed_by_you=endorsements.endorsed(comment),
    )


@bp.get("/reviews/rounds/<int(min=1):round_id>/comments")
@spec.validate(
    resp=api_response(s.CommentList, 401, 403, 404),
    tags=[TAGS["reviews"]],
    security=OPTIONAL_AUTH,
    operation_id="listReviewComments",
    path_parameter_descriptions=ROUND_ID,
)
def review_comments(round_id: int):
    """Comments in a round

    The comments you may see in the round: your own, everyone's where reviewers see each
    other, all of them for staff. Anonymous comments name no one but to staff.
    """
    round_ = _visible_round(round_id, current_user)
    comments = db.session.scalars(
        select(Comment)
        .where(permissions.visible_comments_filter(current_user, round_))
        .order_by(Comment.id)
    ).all()
    endorsements = summarise(current_user, comments)
    return s.CommentList(
        total=len(comments),
        comments=[_comment_out(c, current_user, endorsements) for c in comments],
    )


def _token_user():
    """The owner of the bearer token; the session cookie does not count here."""
    token = bearer_token(request)
    return token.user if token is not None else None


def _bad_request(errors: dict[str, str]):
    message = " ".join(errors.values())
    body = s.ApiError(error=s.ApiErrorBody(code=400, message=message), errors=errors)
    return body, 400


@bp.post("/reviews/rounds/<int(min=1):round_id>/comments")
@csrf.exempt  # bearer tokens only (see the module docstring)
@spec.validate(
    json=s.CommentIn,
    resp=api_response(s.CommentOut, 400, 401, 403, 404, 409, status=201),
    tags=[TAGS["reviews"]],
    security=REQUIRED_AUTH,
    operation_id="postReviewComment",
    path_parameter_descriptions=ROUND_ID,
    # The use case validates the body (with the page's messages); the model documents it.
    skip_validation=True,
)
def post_review_comment(round_id: int):
    """Comment in a round

    Posts a comment as the token's owner, through the same use case as the review page:
    invited reviewers and staff only, only while the round is open. Only a bearer token is
    accepted here, never the session cookie. 409 when commenting is closed.
    """
    user = _token_user()
    if user is None:
        abort(401)
    round_ = _visible_round(round_id, user)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _bad_request({"_form": _("Send a JSON object (Content-Type: application/json).")})
    text_fields = ("body", "comment_type", "proposed_change", "quote", "paragraph")
    wrong = [name for name in text_fields if name in data and not isinstance(data[name], str)]
    errors = {name: _("Must be a string.") for name in wrong}
    if not isinstance(data.get("anonymous", False), bool):
        errors["anonymous"] = _("Must be true or false.")
    if errors:
        return _bad_request(errors)
    paragraph = None
    if data.get("paragraph"):  # a paragraph's anchor, or its number as printed
        ref = data["paragraph"].strip()
        numeric = ref.isascii() and ref.isdigit() and len(ref) <= 9  # a 32-bit column
        condition = Paragraph.number == int(ref) if numeric else Paragraph.anchor == ref
        paragraph = db.session.scalar(
            select(Paragraph).where(Paragraph.version_id == round_.version_id, condition)
        )
        if paragraph is None:
            return _bad_request(
                {"paragraph": _("No paragraph %(ref)s in the version under review.", ref=ref)}
            )
    parent = None
    if data.get("parent_id") is not None:
        parent_id = data["parent_id"]
        if isinstance(parent_id, float) and parent_id.is_integer():
            parent_id = int(parent_id)  # 21.0 is an integer in JSON
        # bool is an int in Python, an id is not; ids are 32-bit (PostgreSQL errs beyond).
        valid = type(parent_id) is int and 0 < parent_id < 2**31
        parent = db.session.get(Comment, parent_id) if valid else None
        if parent is None:
            return _bad_request({"parent_id": _("No such comment.")})
    try:
        outcome = attempt(
            post_comment,
            round_,
            user,
            paragraph=paragraph,
            body=data.get("body", ""),
            comment_type=data.get("comment_type", "general"),
            proposed_change=data.get("proposed_change"),
            quote=data.get("quote"),
            parent=parent,
            anonymous=data.get("anonymous", False),
        )
    except CommentingClosed as err:
        refuse()
        abort(409, description=err.message)
    if not outcome:
        return _bad_request({k: str(v) for k, v in outcome.field_errors.items()})
    return _comment_out(outcome.value, user, EndorsementSummary()), 201
