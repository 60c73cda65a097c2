"""Staff pages of a review round: answering comments (with filters, progress and bulk
actions), the comment matrix exports, the "needs placing" queue of a new version, the round
dashboard, and the reviewer-facing "what we heard, what we did" page.

Routes are added to the reviews blueprint (``portal.reviews.web.bp``). Handlers follow one
order: load the objects (404) → ``require``/``ensure`` a permission → ``attempt`` the use case;
the request commits once.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal.core.forms import choice_list
from portal.core.guard import ensure, require
from portal.core.pagination import paginate
from portal.core.security import plain_query_args
from portal.core.services import FORM_ERROR
from portal.core.transaction import attempt
from portal.extensions import db
from portal.reviews import dashboard as round_dashboard
from portal.reviews.carryover import (
    carry_from_previous,
    heard,
    heard_query,
    needs_placing,
    normalise,
    place_comment,
)
from portal.reviews.dispositions import (
    COMMENT_TYPE_LABELS,
    DECISION_LABELS,
    RESPONSE_REQUIRED,
    comment_type_label,
    comments_for_bulk,
    decision_label,
    dispose_comment,
    dispose_comments,
    filter_choices,
    organization_region_name,
    parse_filters,
    region_names,
    round_progress,
    staff_comments_query,
)
from portal.reviews.endorsements import summarise
from portal.reviews.matrix import EXPORTS, matrix_filename
from portal.reviews.models import (
    Comment,
    DocumentVersion,
    DraftDocument,
    Paragraph,
    Placement,
    ReviewRound,
    RoundStatus,
)
from portal.reviews.services import register_publish_hook
from portal.reviews.staff_forms import BulkDispositionForm, DispositionForm, PlacementForm
from portal.reviews.web import bp
from portal.staff.views import optional_url

# Publishing version n+1 carries the comments of version n onto it, in the same transaction.
register_publish_hook(carry_from_previous)


def _round_or_404(round_id: int) -> ReviewRound:
    review_round = db.session.get(ReviewRound, round_id) or abort(404)
    ensure("manage_reviews_round", review_round)
    return review_round


def paragraph_label(paragraph: Paragraph | None) -> str:
    if paragraph is None:
        return _("Whole document")
    if paragraph.number is not None:
        return _("¶ %(n)s", n=paragraph.number)
    return _("block %(n)s", n=paragraph.position + 1)


def version_url(version: DocumentVersion, paragraph: Paragraph | None) -> str:
    """Link to a version (and a paragraph in it) on the reviewers' document page."""
    base = (
        optional_url("reviews.show_version", document_id=version.document_id, number=version.number)
        or f"/reviews/documents/{version.document_id}/versions/{version.number}"
    )
    return f"{base}#p-{paragraph.anchor}" if paragraph is not None else base


def round_url(review_round: ReviewRound) -> str | None:
    return optional_url("reviews.show_round", round_id=review_round.id)


def _helpers() -> dict:
    return {
        "paragraph_label": paragraph_label,
        "decision_label": decision_label,
        "comment_type_label": comment_type_label,
        "DECISION_LABELS": DECISION_LABELS,
        "COMMENT_TYPE_LABELS": COMMENT_TYPE_LABELS,
        "RESPONSE_REQUIRED": RESPONSE_REQUIRED,
        "version_url": version_url,
    }


# --- Comments and dispositions --------------------------------------------------------------


def _disposition_form(comment: Comment, formdata=None) -> DispositionForm:
    form = DispositionForm(formdata=formdata, prefix=f"c{comment.id}")
    if formdata is None and comment.disposition is not None:
        form.decision.data = comment.disposition.decision
        form.response.data = comment.disposition.response
    form.decision.label.text = _("Decision on comment #%(id)d", id=comment.id)
    form.response.label.text = _("Response to comment #%(id)d", id=comment.id)
    return form


def _render_comments(
    review_round: ReviewRound,
    *,
    forms: dict[int, DispositionForm] | None = None,
    bulk_form: BulkDispositionForm | None = None,
    bulk_errors: dict[str, str] | None = None,
    selected: set[int] | None = None,
    status: int = 200,
):
    filters = parse_filters(request.args)
    page = paginate(staff_comments_query(review_round, filters))
    forms = dict(forms or {})
    for comment in page.items:
        forms.setdefault(comment.id, _disposition_form(comment))
    return (
        render_template(
            "reviews/staff_comments.html",
            round=review_round,
            version=review_round.version,
            document=review_round.version.document,
            page=page,
            filters=filters,
            choices=filter_choices(review_round),
            progress=round_progress(review_round),
            forms=forms,
            endorsements=summarise(current_user, page.items),
            bulk_form=bulk_form or BulkDispositionForm(formdata=None, prefix="bulk"),
            bulk_errors=bulk_errors or {},
            selected=selected or set(),
            region_of=lambda org, names=region_names(): organization_region_name(org, names),
            round_url=round_url(review_round),
            **_helpers(),
        ),
        status,
    )


@bp.route("/rounds/<int:round_id>/comments")
@require("manage_reviews")
def staff_comments(round_id: int):
    return _render_comments(_round_or_404(round_id))


def _back_to_list(review_round: ReviewRound, anchor: str = "") -> str:
    args = plain_query_args("round_id", "comment_id")
    return url_for("reviews.staff_comments", round_id=review_round.id, **args) + anchor


@bp.route("/rounds/<int:round_id>/comments/<int:comment_id>/disposition", methods=["POST"])
@require("manage_reviews")
def staff_dispose(round_id: int, comment_id: int):
    review_round = _round_or_404(round_id)
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.round_id != review_round.id:
        abort(404)
    form = _disposition_form(comment, formdata=request.form)
    if not form.validate_on_submit():
        return _render_comments(review_round, forms={comment.id: form}, status=400)
    outcome = attempt(
        dispose_comment,
        comment,
        current_user,
        decision=form.decision.data,
        response=form.response.data,
    )
    if not outcome:
        comment = db.session.get(Comment, comment_id)
        form = _disposition_form(comment, formdata=request.form)
        for name, message in outcome.field_errors.items():
            target = getattr(form, name, None) if name != FORM_ERROR else None
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.decision.errors = [*form.decision.errors, message]
        return _render_comments(review_round, forms={comment.id: form}, status=400)
    flash(_("Answer saved for comment #%(id)d.", id=comment.id), "success")
    return redirect(_back_to_list(review_round, f"#comment-{comment.id}"))


@bp.route("/rounds/<int:round_id>/comments/bulk", methods=["POST"])
@require("manage_reviews")
def staff_bulk_dispose(round_id: int):
    review_round = _round_or_404(round_id)
    form = BulkDispositionForm(prefix="bulk")
    raw_ids = [i for i in request.form.getlist("comment_ids") if i.isdigit()]
    selected = {int(i) for i in raw_ids}
    if not form.validate_on_submit():
        return _render_comments(review_round, bulk_form=form, selected=selected, status=400)
    comments = comments_for_bulk(review_round, selected)
    outcome = attempt(
        dispose_comments,
        comments,
        current_user,
        decision=form.decision.data,
        response=form.response.data,
    )
    if not outcome:
        form = BulkDispositionForm(prefix="bulk")
        errors = dict(outcome.field_errors)
        for name in ("decision", "response"):
            if name in errors:
                getattr(form, name).errors = [errors.pop(name)]
        return _render_comments(
            review_round, bulk_form=form, bulk_errors=errors, selected=selected, status=400
        )
    flash(
        _(
            "%(n)d comments answered: %(decision)s.",
            n=len(comments),
            decision=decision_label(form.decision.data),
        ),
        "success",
    )
    return redirect(_back_to_list(review_round))


@bp.route("/rounds/<int:round_id>/matrix.<fmt>")
@require("manage_reviews")
def staff_matrix(round_id: int, fmt: str):
    review_round = _round_or_404(round_id)
    if fmt not in EXPORTS:
        abort(404)
    build, mimetype = EXPORTS[fmt]
    return Response(
        build(review_round),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{matrix_filename(review_round, fmt)}"',
            "Cache-Control": "no-store",  # staff-only content: never in a shared cache
        },
    )


# --- Needs placing ----------------------------------------------------------------------------


def _version_or_404(document_id: int, number: int) -> DocumentVersion:
    document = db.session.get(DraftDocument, document_id) or abort(404)
    version = db.session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.document_id == document.id, DocumentVersion.number == number
        )
    )
    return version or abort(404)


def _suggestion(comment: Comment, paragraphs: list[Paragraph]) -> Paragraph | None:
    """The paragraph most like the comment's original one, offered as the default choice."""
    if comment.paragraph is None:
        return None
    text = normalise(comment.paragraph.text)
    best, best_ratio = None, 0.3  # below this, nothing is offered: staff choose
    for paragraph in paragraphs:
        ratio = SequenceMatcher(None, text, normalise(paragraph.text), autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = paragraph, ratio
    return best


def _placement_form(comment: Comment, paragraphs: list[Paragraph], formdata=None) -> PlacementForm:
    form = PlacementForm(formdata=formdata, prefix=f"c{comment.id}")
    form.paragraph.choices = choice_list(
        [("document", _("The whole document"))]
        + [(str(p.id), f"{paragraph_label(p)} — {p.text[:90]}") for p in paragraphs]
    )
    form.paragraph.label.text = _("Place comment #%(id)d on", id=comment.id)
    if formdata is None:
        suggestion = _suggestion(comment, paragraphs)
        form.paragraph.data = str(suggestion.id) if suggestion else "document"
    return form


def _render_queue(
    version: DocumentVersion, errors: dict[int, PlacementForm] | None = None, status=200
):
    paragraphs = list(version.paragraphs)
    comments = needs_placing(version)
    forms = dict(errors or {})
    for comment in comments:
        forms.setdefault(comment.id, _placement_form(comment, paragraphs))
    return (
        render_template(
            "reviews/staff_needs_placing.html",
            version=version,
            document=version.document,
            comments=comments,
            forms=forms,
            **_helpers(),
        ),
        status,
    )


@bp.route(
    "/documents/<int:document_id>/versions/<int:number>/needs-placing", methods=["GET", "POST"]
)
@require("manage_reviews")
def staff_needs_placing(document_id: int, number: int):
    version = _version_or_404(document_id, number)
    if request.method == "GET":
        return _render_queue(version)
    raw = request.form.get("comment_id", "")
    comment = db.session.get(Comment, int(raw)) if raw.isdigit() else None
    if comment is None:
        abort(400, _("Choose a comment from the list."))
    paragraphs = list(version.paragraphs)
    # The queue's forms are prefixed per comment; a plain form (tests, scripts) works too.
    prefixed = f"c{comment.id}-paragraph"
    choice = request.form.get(prefixed) or request.form.get("paragraph") or ""
    form = _placement_form(comment, paragraphs, formdata=request.form)
    form.paragraph.data = choice
    paragraph = None
    if choice != "document":
        paragraph = db.session.get(Paragraph, int(choice)) if choice.isdigit() else None
        if paragraph is None:
            form.paragraph.errors = [_("Choose a paragraph of this version.")]
            return _render_queue(version, {comment.id: form}, 400)
    outcome = attempt(place_comment, comment, version, paragraph, current_user)
    if not outcome:
        form.paragraph.errors = list(outcome.field_errors.values())
        return _render_queue(version, {comment.id: form}, 400)
    flash(
        _("Comment #%(id)d placed on %(where)s.", id=comment.id, where=paragraph_label(paragraph)),
        "success",
    )
    return redirect(url_for("reviews.staff_needs_placing", document_id=document_id, number=number))


# --- Dashboard --------------------------------------------------------------------------------


@bp.route("/rounds/<int:round_id>/dashboard")
@require("manage_reviews")
def staff_dashboard(round_id: int):
    review_round = _round_or_404(round_id)
    by_region, by_group, overall = round_dashboard.response_rates(review_round)
    cells, peak = round_dashboard.paragraph_heat(review_round)
    return render_template(
        "reviews/staff_dashboard.html",
        round=review_round,
        version=review_round.version,
        document=review_round.version.document,
        overall=overall,
        by_region=by_region,
        by_group=by_group,
        region_chart=round_dashboard.bar_chart_svg(
            by_region, _("Response rate by region"), "chart-region"
        ),
        group_chart=round_dashboard.bar_chart_svg(
            by_group, _("Response rate by stakeholder group"), "chart-group"
        ),
        cells=cells,
        peak=peak,
        progress=round_progress(review_round),
        round_url=round_url(review_round),
        **_helpers(),
    )


@bp.app_template_global()
def open_review_rounds(limit: int = 10) -> list[ReviewRound]:
    """Open rounds for the staff dashboard's "Reviews" card (called from its template)."""
    return list(
        db.session.scalars(
            select(ReviewRound)
            .where(ReviewRound.status == RoundStatus.OPEN.value)
            .order_by(ReviewRound.closes_at)
            .limit(limit)
        )
    )


@bp.app_template_global()
def review_placing_queues() -> list[tuple[DocumentVersion, int]]:
    """Versions with comments waiting to be placed, and how many (staff dashboard card)."""
    rows = db.session.execute(
        select(Comment.carried_to_version_id, func.count(Comment.id))
        .where(
            Comment.placement == Placement.NEEDS_PLACING.value,
            Comment.carried_to_version_id.is_not(None),
        )
        .group_by(Comment.carried_to_version_id)
    ).all()
    versions = (
        {
            v.id: v
            for v in db.session.scalars(
                select(DocumentVersion).where(DocumentVersion.id.in_([r[0] for r in rows]))
            )
        }
        if rows
        else {}
    )
    return [(versions[vid], n) for vid, n in rows if vid in versions]


# --- What we heard, what we did ---------------------------------------------------------------


@bp.route("/rounds/<int:round_id>/heard")
def heard_page(round_id: int):
    review_round = db.session.get(ReviewRound, round_id) or abort(404)
    ensure("view_heard", review_round)
    # Thousands of comments: a page at a time (a paragraph may continue on the next page).
    page = paginate(heard_query(review_round, current_user))
    groups = heard(review_round, current_user, version_url, page.items)
    return render_template(
        "reviews/heard.html",
        page=page,
        round=review_round,
        version=review_round.version,
        document=review_round.version.document,
        groups=groups,
        endorsements=summarise(current_user, page.items),
        back_url=request.full_path.rstrip("?"),
        round_url=optional_url("reviews.show_round", round_id=review_round.id),
        **_helpers(),
    )
