"""Staff routes for agreements (create, edit, archive, restore) and their documents.

Registered on the public agreements blueprint, so URLs stay under /agreements/. Each handler:
load the object → check access → ``attempt`` the use case; the request commits once, or the
form is shown again with the service's errors beside its fields.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.agreements import documents, services
from portal.agreements.forms import AgreementForm, DocumentForm
from portal.agreements.models import Agreement, AgreementDocument
from portal.agreements.views import bp
from portal.core.forms import ConfirmForm
from portal.core.guard import require
from portal.core.transaction import Outcome, attempt
from portal.extensions import db
from portal.staff.views import optional_url


def _agreement_or_404(agreement_id: int) -> Agreement:
    return db.session.get(Agreement, agreement_id) or abort(404)


def _after_save_url(agreement: Agreement) -> str:
    return optional_url("agreements.show", agreement_id=agreement.id) or url_for(
        "agreements.edit", agreement_id=agreement.id
    )


def _render_form(
    form: AgreementForm,
    agreement: Agreement | None,
    form_errors: list[str],
    party_error: str | None,
):
    form.pad_party_rows()
    failed = bool(form.errors or form_errors or party_error)
    return render_template(
        "agreements/form.html",
        form=form,
        agreement=agreement,
        form_errors=form_errors,
        party_error=party_error,
        confirm=ConfirmForm(),
        profile_url=optional_url("agreements.show", agreement_id=agreement.id)
        if agreement
        else None,
        download_endpoint=(
            "agreements.download_document"
            if "agreements.download_document" in current_app.view_functions
            else None
        ),
    ), (400 if failed else 200)


def _split_errors(outcome: Outcome) -> tuple[list[str], str | None]:
    """Party errors are shown above the party rows; the rest beside their fields (``attempt``
    put them there) or at the top of the form."""
    party_error = outcome.field_errors.get("parties")
    return [m for m in outcome.errors if m != party_error], party_error


@bp.route("/new", methods=["GET", "POST"])
@require("staff")
def create():
    form = AgreementForm()
    form_errors: list[str] = []
    party_error = None
    if form.validate_on_submit():
        outcome = attempt(services.create_agreement, current_user, form.to_data(), form=form)
        if outcome:
            agreement = outcome.value
            flash(_("Agreement %(ref)s created.", ref=agreement.reference), "success")
            return redirect(_after_save_url(agreement))
        form_errors, party_error = _split_errors(outcome)
    return _render_form(form, None, form_errors, party_error)


@bp.route("/<int:agreement_id>/edit", methods=["GET", "POST"])
@require("staff")
def edit(agreement_id: int):
    agreement = _agreement_or_404(agreement_id)
    if request.method == "POST":
        form = AgreementForm(party_org_ids=agreement.party_organization_ids)
    else:
        form = AgreementForm.for_agreement(agreement)
    form_errors: list[str] = []
    party_error = None
    if form.validate_on_submit():
        outcome = attempt(
            services.update_agreement, current_user, agreement, form.to_data(), form=form
        )
        if outcome:
            flash(_("Changes to %(ref)s saved.", ref=agreement.reference), "success")
            return redirect(_after_save_url(agreement))
        form_errors, party_error = _split_errors(outcome)
    return _render_form(form, agreement, form_errors, party_error)


def _archive_or_restore(agreement_id: int, archive: bool):
    agreement = _agreement_or_404(agreement_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    action = services.archive_agreement if archive else services.restore_agreement
    outcome = attempt(action, current_user, agreement)
    if not outcome:
        for message in outcome.errors:
            flash(message, "error")
    elif archive:
        flash(
            _("%(ref)s archived. It is now seen by staff only.", ref=agreement.reference), "success"
        )
    else:
        flash(_("%(ref)s restored.", ref=agreement.reference), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement_id))


@bp.route("/<int:agreement_id>/archive", methods=["POST"])
@require("staff")
def archive(agreement_id: int):
    return _archive_or_restore(agreement_id, archive=True)


@bp.route("/<int:agreement_id>/restore", methods=["POST"])
@require("staff")
def restore(agreement_id: int):
    return _archive_or_restore(agreement_id, archive=False)


@bp.route("/<int:agreement_id>/documents/new", methods=["GET", "POST"])
@require("staff")
def upload_document(agreement_id: int):
    agreement = _agreement_or_404(agreement_id)
    form = DocumentForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        # Should the commit fail, the stored file goes too (``documents.store_upload``).
        outcome = attempt(
            services.attach_document,
            current_user,
            agreement,
            form.title.data,
            upload.stream,
            upload.filename,
            form=form,
        )
        if outcome:
            flash(_("“%(title)s” attached.", title=outcome.value.title), "success")
            return redirect(url_for("agreements.edit", agreement_id=agreement.id) + "#documents")
        form_errors = outcome.errors
    return render_template(
        "agreements/upload.html",
        form=form,
        agreement=agreement,
        form_errors=form_errors,
        allowed=sorted(documents.allowed_extensions() & set(documents.DOCUMENT_TYPES)),
        max_mb=documents.max_document_bytes() // (1024 * 1024) or 1,
    ), (400 if form.errors or form_errors else 200)


@bp.route("/<int:agreement_id>/documents/<int:doc_id>/delete", methods=["POST"])
@require("staff")
def delete_document(agreement_id: int, doc_id: int):
    doc = db.session.get(AgreementDocument, doc_id)
    if doc is None or doc.agreement_id != agreement_id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    title = doc.title
    # The file is removed once the request has committed the deletion.
    services.remove_document(current_user, doc)
    flash(_("“%(title)s” removed.", title=title), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement_id) + "#documents")
