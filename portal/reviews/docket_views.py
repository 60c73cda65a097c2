"""The docket of a public consultation (``portal.reviews.docket``): the filtered list of
published comments, one page per comment (its stable URL), and CSV / JSON downloads of the
same filtered list. Anyone may read a public round's docket; other rounds have none (404)."""

from __future__ import annotations

import json

from flask import Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.core.guard import ensure
from portal.core.pagination import paginate
from portal.extensions import db
from portal.partners.models import ORG_TYPES, Region
from portal.partners.place_names import place_name
from portal.reviews import permissions
from portal.reviews.docket import (
    MAX_EXPORT_ROWS,
    UNANSWERED,
    WHOLE_DOCUMENT,
    docket_query,
    docket_rows,
    parse_docket_filters,
    to_csv,
)
from portal.reviews.docket import (
    docket_comment as find_docket_comment,
)
from portal.reviews.endorsements import summarise
from portal.reviews.labels import DECISION_LABELS, author_label, comment_type_label, decision_label
from portal.reviews.models import Comment, Paragraph, ReviewRound
from portal.reviews.web import bp


def _docket_round(round_id: int) -> ReviewRound:
    review_round = db.session.get(ReviewRound, round_id)
    if review_round is None or not review_round.public:
        abort(404)
    ensure("view_review_round", review_round)
    return review_round


def _permalink(comment: Comment, *, external: bool = False) -> str:
    return url_for(
        "reviews.docket_comment",
        round_id=comment.round_id,
        comment_id=comment.id,
        _external=external,
    )


def _filter_choices(review_round: ReviewRound) -> dict:
    paragraphs = db.session.scalars(
        select(Paragraph)
        .where(Paragraph.version_id == review_round.version_id, Paragraph.number.is_not(None))
        .order_by(Paragraph.position)
    ).all()
    regions = db.session.scalars(select(Region).order_by(Region.level, Region.name)).all()
    return {
        "paragraphs": [(WHOLE_DOCUMENT, _whole_document())]
        + [(p.anchor, _paragraph_label(p)) for p in paragraphs],
        "org_types": [(k, f"{v}") for k, v in ORG_TYPES.items()],
        # M49 names in the reader's language, as on every other region filter.
        "regions": [(r.code, place_name(r.name), max(r.level - 1, 0)) for r in regions],
        "decisions": [(k, str(v)) for k, v in DECISION_LABELS.items()]
        + [(UNANSWERED, _not_answered())],
    }


def _sign_in_to_endorse(review_round: ReviewRound) -> bool:
    """A visitor on an open public round is offered "sign in to endorse"."""
    return (
        not permissions.is_signed_in(current_user)
        and permissions.round_state(review_round) is permissions.RoundState.OPEN
    )


def _whole_document() -> str:
    return _("Whole document")


def _not_answered() -> str:
    return _("Not yet answered")


def _paragraph_label(paragraph: Paragraph) -> str:
    return _("Paragraph %(n)s", n=paragraph.number)


@bp.route("/rounds/<int:round_id>/docket")
def docket(round_id: int):
    review_round = _docket_round(round_id)
    filters = parse_docket_filters(request.args, review_round)
    page = paginate(docket_query(review_round, current_user, filters))
    rows = docket_rows(page.items, current_user, _permalink)
    return render_template(
        "reviews/docket.html",
        round=review_round,
        version=review_round.version,
        document=review_round.version.document,
        filters=filters,
        choices=_filter_choices(review_round),
        page=page,
        rows=rows,
        endorsements=summarise(current_user, page.items),
        back_url=request.full_path.rstrip("?"),
        sign_in=_sign_in_to_endorse(review_round),
        state=permissions.round_state(review_round).value,
        export_args={k: v for k, v in filters.as_args().items() if v},
    )


@bp.route("/rounds/<int:round_id>/docket.<fmt>")
def docket_export(round_id: int, fmt: str):
    if fmt not in ("csv", "json"):
        abort(404)
    review_round = _docket_round(round_id)
    filters = parse_docket_filters(request.args, review_round)
    comments = db.session.scalars(
        docket_query(review_round, current_user, filters).limit(MAX_EXPORT_ROWS)
    ).all()
    rows = docket_rows(comments, current_user, lambda c: _permalink(c, external=True))
    filename = f"docket-round-{review_round.id}.{fmt}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        # What a signed-in reader sees may differ from the public list: no shared caches.
        "Cache-Control": "private, no-store",
    }
    if fmt == "csv":
        return Response(to_csv(rows), mimetype="text/csv; charset=utf-8", headers=headers)
    body = {
        "round": {
            "id": review_round.id,
            "title": review_round.title,
            "document": review_round.version.document.title,
            "version": review_round.version.number,
            "state": permissions.round_state(review_round).value,
        },
        "filters": {k: v for k, v in filters.as_args().items() if v},
        "total": len(rows),
        "comments": [row.__dict__ for row in rows],
    }
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers=headers,
    )


@bp.route("/rounds/<int:round_id>/docket/<int:comment_id>", endpoint="docket_comment")
def docket_comment_page(round_id: int, comment_id: int):
    review_round = _docket_round(round_id)
    comment = find_docket_comment(review_round, current_user, comment_id)
    if comment is None:
        abort(404)
    replies = [r for r in comment.replies if permissions.sees_reply(current_user, comment, r)]
    return render_template(
        "reviews/docket_comment.html",
        round=review_round,
        document=review_round.version.document,
        comment=comment,
        replies=replies,
        who=author_label(comment, current_user),
        reply_who=lambda r: author_label(r, current_user),
        type_label=comment_type_label(comment.comment_type),
        decision=decision_label(comment.disposition.decision) if comment.disposition else "",
        org=comment.organization if permissions.sees_author(current_user, comment) else None,
        endorsements=summarise(current_user, [comment]),
        back_url=request.path,
        sign_in=_sign_in_to_endorse(review_round),
    )
