"""Staff routes for agreements (create, edit, archive, restore) and their documents.

Registered on the public agreements blueprint, so URLs stay under /agreements/. Each handler:
load the object → check access → call the service → commit once (or show the errors).
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.agreements import documents, services
from portal.agreements.forms import AgreementForm, DocumentForm
from portal.agreements.models import Agreement, AgreementDocument
from portal.agreements.views import bp
from portal.core.services import PermissionDenied, ValidationError
from portal.extensions import db
from portal.partners.forms import ConfirmForm, apply_service_errors
from portal.staff.views import optional_url, staff_required


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


def _split_errors(form: AgreementForm, errors: dict[str, str]) -> tuple[list[str], str | None]:
    """Party errors are shown above the party rows; the rest beside their fields."""
    errors = dict(errors)
    party_error = errors.pop("parties", None)
    return apply_service_errors(form, errors), party_error


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def create():
    form = AgreementForm()
    form_errors: list[str] = []
    party_error = None
    if form.validate_on_submit():
        try:
            agreement = services.create_agreement(current_user, form.to_data())
        except PermissionDenied:
            abort(403)
        except ValidationError as err:
            db.session.rollback()
            form_errors, party_error = _split_errors(form, err.errors)
        else:
            db.session.commit()
            flash(_("Agreement %(ref)s created.", ref=agreement.reference), "success")
            return redirect(_after_save_url(agreement))
    return _render_form(form, None, form_errors, party_error)


@bp.route("/<int:agreement_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(agreement_id: int):
    agreement = _agreement_or_404(agreement_id)
    if request.method == "POST":
        form = AgreementForm(party_org_ids=agreement.party_organization_ids)
    else:
        form = AgreementForm.for_agreement(agreement)
    form_errors: list[str] = []
    party_error = None
    if form.validate_on_submit():
        try:
            services.update_agreement(current_user, agreement, form.to_data())
        except PermissionDenied:
            abort(403)
        except ValidationError as err:
            db.session.rollback()
            agreement = _agreement_or_404(agreement_id)
            form_errors, party_error = _split_errors(form, err.errors)
        else:
            db.session.commit()
            flash(_("Changes to %(ref)s saved.", ref=agreement.reference), "success")
            return redirect(_after_save_url(agreement))
    return _render_form(form, agreement, form_errors, party_error)


def _archive_or_restore(agreement_id: int, archive: bool):
    agreement = _agreement_or_404(agreement_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        if archive:
            services.archive_agreement(current_user, agreement)
        else:
            services.restore_agreement(current_user, agreement)
    except PermissionDenied:
        abort(403)
    except ValidationError as err:
        db.session.rollback()
        for message in err.errors.values():
            flash(message, "error")
        return redirect(url_for("agreements.edit", agreement_id=agreement_id))
    db.session.commit()
    if archive:
        flash(
            _("%(ref)s archived. It is now seen by staff only.", ref=agreement.reference), "success"
        )
    else:
        flash(_("%(ref)s restored.", ref=agreement.reference), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement_id))


@bp.route("/<int:agreement_id>/archive", methods=["POST"])
@staff_required
def archive(agreement_id: int):
    return _archive_or_restore(agreement_id, archive=True)


@bp.route("/<int:agreement_id>/restore", methods=["POST"])
@staff_required
def restore(agreement_id: int):
    return _archive_or_restore(agreement_id, archive=False)


@bp.route("/<int:agreement_id>/documents/new", methods=["GET", "POST"])
@staff_required
def upload_document(agreement_id: int):
    agreement = _agreement_or_404(agreement_id)
    form = DocumentForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            doc = services.attach_document(
                current_user, agreement, form.title.data, upload.stream, upload.filename
            )
        except PermissionDenied:
            abort(403)
        except ValidationError as err:
            db.session.rollback()
            agreement = _agreement_or_404(agreement_id)
            form_errors = apply_service_errors(form, err.errors)
        else:
            stored_name = doc.stored_name
            try:
                db.session.commit()
            except Exception:
                # The row did not land, so the file must not stay either.
                db.session.rollback()
                documents.remove_stored(stored_name)
                raise
            flash(_("“%(title)s” attached.", title=doc.title), "success")
            return redirect(url_for("agreements.edit", agreement_id=agreement.id) + "#documents")
    return render_template(
        "agreements/upload.html",
        form=form,
        agreement=agreement,
        form_errors=form_errors,
        allowed=sorted(documents.allowed_extensions() & set(documents.DOCUMENT_TYPES)),
        max_mb=documents.max_document_bytes() // (1024 * 1024) or 1,
    ), (400 if form.errors or form_errors else 200)


@bp.route("/<int:agreement_id>/documents/<int:doc_id>/delete", methods=["POST"])
@staff_required
def delete_document(agreement_id: int, doc_id: int):
    doc = db.session.get(AgreementDocument, doc_id)
    if doc is None or doc.agreement_id != agreement_id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    title = doc.title
    try:
        stored_name = services.remove_document(current_user, doc)
    except PermissionDenied:
        abort(403)
    db.session.commit()
    # Only now that the row is gone for good is the file removed.
    documents.remove_stored(stored_name)
    flash(_("“%(title)s” removed.", title=title), "success")
    return redirect(url_for("agreements.edit", agreement_id=agreement_id) + "#documents")
