"""Review pages for draft documents: the index, uploading a document or a new version, reading
a version, publishing it, and comparing two versions."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from portal.core.guard import can, require
from portal.core.transaction import attempt
from portal.extensions import db
from portal.reviews import permissions, services
from portal.reviews.diffing import diff_versions
from portal.reviews.forms import DocumentForm, PublishForm, VersionForm
from portal.reviews.importing import ImportFailed, max_source_bytes, parse_upload
from portal.reviews.models import DocumentVersion, DraftDocument, ReviewRound
from portal.reviews.rendering import outline
from portal.reviews.web import bp, document_or_404, version_or_404


def _read_upload(form) -> tuple:
    storage = form.file.data
    try:
        parsed, fmt = parse_upload(storage.filename or "", storage.stream)
    except ImportFailed as err:
        form.file.errors = list(form.file.errors) + [err.message]
        return None, None
    return parsed, fmt


@bp.route("/")
def index():
    """Staff: every draft; reviewers: their rounds; everyone: the public consultations."""
    documents = []
    if can("manage_reviews"):
        documents = db.session.scalars(
            select(DraftDocument).order_by(DraftDocument.updated_at.desc(), DraftDocument.id.desc())
        ).all()
    rounds = db.session.scalars(
        select(ReviewRound)
        .where(permissions.invited_rounds_filter(current_user))
        .order_by(ReviewRound.closes_at.desc())
    ).all()
    public_rounds = db.session.scalars(
        select(ReviewRound)
        .where(permissions.public_rounds_filter())
        .order_by(ReviewRound.closes_at.desc(), ReviewRound.id.desc())
    ).all()
    return render_template(
        "reviews/index.html",
        documents=documents,
        rounds=rounds,
        public_rounds=public_rounds,
        state_of=permissions.round_state,
    )


def _create_document(form, parsed, fmt, actor) -> DocumentVersion:
    """One use case for the page: the document and its first version, saved together."""
    document = services.create_document(
        form.title.data, form.description.data, form.lang.data, actor
    )
    return services.add_version(
        document,
        parsed,
        source_format=fmt,
        source_filename=form.file.data.filename,
        changelog=form.changelog.data or "",
        actor=actor,
    )


@bp.route("/documents/new", methods=["GET", "POST"])
@require("manage_reviews")
def new_document():
    form = DocumentForm()
    general: list[str] = []
    if form.validate_on_submit():
        parsed, fmt = _read_upload(form)
        if parsed is not None:
            outcome = attempt(_create_document, form, parsed, fmt, current_user, form=form)
            if outcome:
                version = outcome.value
                flash(
                    _(
                        "Version 1 imported: %(n)s numbered paragraphs. Check it, then publish it.",
                        n=sum(1 for p in version.paragraphs if p.number is not None),
                    ),
                    "success",
                )
                return redirect(
                    url_for(
                        "reviews.show_version",
                        document_id=version.document_id,
                        number=version.number,
                    )
                )
            general = outcome.errors
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "reviews/document_form.html",
            form=form,
            general=general,
            limit_mb=max_source_bytes() // (1024 * 1024),
        ),
        status,
    )


@bp.route("/documents/<int:document_id>")
def show_document(document_id: int):
    document = document_or_404(document_id)
    versions = [v for v in document.versions if permissions.can_view_version(current_user, v)]
    stmt = (
        select(ReviewRound)
        .join(DocumentVersion, DocumentVersion.id == ReviewRound.version_id)
        .where(DocumentVersion.document_id == document.id)
        .order_by(ReviewRound.id)
    )
    if not can("manage_reviews"):
        stmt = stmt.where(
            or_(permissions.invited_rounds_filter(current_user), permissions.public_rounds_filter())
        )
    return render_template(
        "reviews/document.html",
        document=document,
        versions=versions,
        rounds=db.session.scalars(stmt).all(),
        state_of=permissions.round_state,
        publish_form=PublishForm(),
    )


@bp.route("/documents/<int:document_id>/versions/new", methods=["GET", "POST"])
@require("manage_reviews")
def new_version(document_id: int):
    document = document_or_404(document_id)
    form = VersionForm()
    general: list[str] = []
    if form.validate_on_submit():
        parsed, fmt = _read_upload(form)
        if parsed is not None:
            outcome = attempt(
                services.add_version,
                document,
                parsed,
                source_format=fmt,
                source_filename=form.file.data.filename,
                changelog=form.changelog.data,
                actor=current_user,
                form=form,
            )
            if outcome:
                version = outcome.value
                flash(
                    _("Version %(n)s imported. Check it, then publish it.", n=version.number),
                    "success",
                )
                return redirect(
                    url_for("reviews.show_version", document_id=document.id, number=version.number)
                )
            general = outcome.errors
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "reviews/version_form.html",
            form=form,
            document=document,
            general=general,
            limit_mb=max_source_bytes() // (1024 * 1024),
        ),
        status,
    )


@bp.route("/documents/<int:document_id>/versions/<int:number>")
def show_version(document_id: int, number: int):
    document = document_or_404(document_id)
    version = version_or_404(document, number)
    others = [
        v
        for v in document.versions
        if v.id != version.id and permissions.can_view_version(current_user, v)
    ]
    return render_template(
        "reviews/version.html",
        document=document,
        version=version,
        items=outline(version),
        others=others,
        publish_form=PublishForm(),
    )


@bp.route("/documents/<int:document_id>/versions/<int:number>/publish", methods=["POST"])
@require("manage_reviews")
def publish(document_id: int, number: int):
    document = document_or_404(document_id)
    version = version_or_404(document, number)
    if not PublishForm().validate_on_submit():
        abort(400)
    outcome = attempt(services.publish_version, version, current_user)
    if outcome:
        flash(_("Version %(n)s is published.", n=version.number), "success")
    else:
        flash(" ".join(outcome.errors), "error")
    return redirect(url_for("reviews.show_version", document_id=document.id, number=number))


@bp.route("/documents/<int:document_id>/diff")
def diff(document_id: int):
    document = document_or_404(document_id)
    try:
        a = int(request.args.get("from", ""))
        b = int(request.args.get("to", ""))
    except ValueError:
        abort(400, _("Choose two versions to compare."))
    old = version_or_404(document, a)
    new = version_or_404(document, b)
    entries = diff_versions(old, new)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.op] = counts.get(entry.op, 0) + 1
    versions = [v for v in document.versions if permissions.can_view_version(current_user, v)]
    return render_template(
        "reviews/diff.html",
        document=document,
        old=old,
        new=new,
        entries=entries,
        counts=counts,
        versions=versions,
    )
