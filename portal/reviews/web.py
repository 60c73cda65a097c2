"""The reviews blueprint, its template helpers and the loaders every review page shares.

Pages are split by sub-domain, all on this one blueprint (``reviews.*`` endpoints):

- ``document_views``   — the review index, draft documents, versions, publishing, the diff;
- ``round_views``      — opening a round, the round page, steering an open round, invitations;
- ``comment_views``    — commenting, editing, withdrawing and hiding comments;
- ``invitation_views`` — a reviewer's personal link and unsubscribing;
- ``staff_views``      — answers, the matrix, "needs placing", the dashboard, "what we heard".

Every handler: load the objects (404) → ``ensure(...)`` a permission from
``reviews/permissions.py`` → ``attempt(services.x, …)`` → redirect or re-render with the errors.
The request commits once (``portal.core.transaction``); no view commits.
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.core.guard import ensure
from portal.extensions import db
from portal.reviews import permissions
from portal.reviews.labels import author_label
from portal.reviews.models import DocumentVersion, DraftDocument, ReviewRound
from portal.reviews.rendering import highlight, table_rows
from portal.reviews.times import format_round_time, reader_timezone

bp = Blueprint("reviews", __name__, url_prefix="/reviews")

ROUND_STATE_LABELS = {
    permissions.RoundState.DRAFT.value: _l("draft"),
    permissions.RoundState.NOT_YET_OPEN.value: _l("not yet open"),
    permissions.RoundState.OPEN.value: _l("open"),
    permissions.RoundState.CLOSED.value: _l("closed"),
}
COMMENT_STATUS_LABELS = {
    "active": _l("active"),
    "withdrawn": _l("withdrawn"),
    "hidden": _l("hidden"),
}


def _round_time(round_, value) -> str:
    """A round's time for the page's reader: their own time zone if they chose one."""
    return format_round_time(round_, value, reader_timezone(current_user))


@bp.record_once
def _review_helpers(state):
    # Template globals, not a context processor: the document macros are imported
    # (`{% from "reviews/_document.html" import render_document %}`), and imported macros
    # see globals but not the request's context.
    state.app.jinja_env.globals.update(
        review_round_time=_round_time,
        review_table_rows=table_rows,
        review_highlight=highlight,
        review_author=author_label,
        ROUND_STATE_LABELS=ROUND_STATE_LABELS,
        COMMENT_STATUS_LABELS=COMMENT_STATUS_LABELS,
    )


def _not_found_or_sign_in():
    """A visitor is asked to sign in (they may be an invited reviewer); a signed-in user who
    may not see the object gets 404 — not 403: it is not announced to exist."""
    if not permissions.is_signed_in(current_user):
        from portal.extensions import login_manager

        abort(login_manager.unauthorized())
    abort(404)


def document_or_404(document_id: int) -> DraftDocument:
    document = db.session.get(DraftDocument, document_id)
    if document is None or not permissions.can_view_document(current_user, document):
        _not_found_or_sign_in()
    return document


def version_or_404(document: DraftDocument, number: int) -> DocumentVersion:
    version = db.session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.document_id == document.id, DocumentVersion.number == number
        )
    )
    if version is None or not permissions.can_view_version(current_user, version):
        _not_found_or_sign_in()
    return version


def round_or_404(round_id: int, permission: str = "view_review_round") -> ReviewRound:
    """The round, or 404; then ``permission`` on it (login for visitors, else 403)."""
    round_ = db.session.get(ReviewRound, round_id)
    if round_ is None:
        abort(404)
    ensure(permission, round_)
    return round_
