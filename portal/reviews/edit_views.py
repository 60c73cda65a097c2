"""The page where staff make version N+1 by editing the paragraphs of version N in the browser
(``portal/reviews/editing.py``); saved by ``services.add_version`` like an upload."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from portal.core.guard import require
from portal.core.transaction import attempt
from portal.reviews import services
from portal.reviews.editing import EDITABLE, edited_document
from portal.reviews.rendering import load_version
from portal.reviews.web import bp, document_or_404, version_or_404


class EditVersionForm(FlaskForm):
    changelog = TextAreaField(
        _l("Changes in this version"),
        validators=[DataRequired(_l("Say what changed: reviewers read this first."))],
    )


def _save(document, version, texts: dict[str, str], changelog: str, actor):
    """One use case for the page: build the edited document, then store it as a version."""
    parsed = edited_document(version, texts)
    return services.add_version(
        document,
        parsed,
        source_format="edit",
        source_filename=None,
        changelog=changelog,
        actor=actor,
    )


@bp.route("/documents/<int:document_id>/versions/<int:number>/edit", methods=["GET", "POST"])
@require("manage_reviews")
def edit_version(document_id: int, number: int):
    document = document_or_404(document_id)
    version = version_or_404(document, number)
    form = EditVersionForm()
    _sections, paragraphs = load_version(version)
    texts = {
        p.anchor: request.form.get(f"text-{p.anchor}", p.text)
        for p in paragraphs
        if p.kind in EDITABLE
    }
    general: list[str] = []
    field_errors: dict[str, str] = {}
    if form.validate_on_submit():
        outcome = attempt(
            _save, document, version, texts, form.changelog.data, current_user, form=form
        )
        if outcome:
            new = outcome.value
            flash(_("Version %(n)s saved. Check it, then publish it.", n=new.number), "success")
            return redirect(
                url_for("reviews.show_version", document_id=document.id, number=new.number)
            )
        general = outcome.errors
        field_errors = getattr(outcome, "field_errors", {}) or {}
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "reviews/version_edit.html",
            form=form,
            document=document,
            version=version,
            paragraphs=paragraphs,
            texts=texts,
            editable=EDITABLE,
            general=general,
            field_errors=field_errors,
        ),
        status,
    )
