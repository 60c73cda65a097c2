"""Staff routes for organisations (create, edit, archive, restore) and partners' edit proposals.

Registered on the public partners blueprint, so URLs stay under /partners/. Each handler:
load the object → check access → ``attempt`` the use case; the request commits once, or the
form is shown again with the service's errors beside its fields.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.core.forms import ConfirmForm
from portal.core.guard import ensure, require
from portal.core.transaction import attempt
from portal.extensions import db
from portal.partners import services
from portal.partners.forms import OrganizationForm, ProposalForm
from portal.partners.models import Organization, OrganizationEditProposal
from portal.partners.permissions import can_view_organization
from portal.partners.views import bp
from portal.staff.views import optional_url


def _org_or_404(org_id: int) -> Organization:
    return db.session.get(Organization, org_id) or abort(404)


def _after_save_url(org: Organization) -> str:
    return optional_url("partners.show", org_id=org.id) or url_for("partners.edit", org_id=org.id)


@bp.route("/new", methods=["GET", "POST"])
@require("staff")
def create():
    form = OrganizationForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(services.create_organization, current_user, form.to_data(), form=form)
        if outcome:
            flash(_("Organisation “%(name)s” created.", name=outcome.value.name), "success")
            return redirect(_after_save_url(outcome.value))
        form_errors = outcome.errors
    return render_template(
        "partners/form.html",
        form=form,
        org=None,
        form_errors=form_errors,
        confirm=ConfirmForm(),
        profile_url=None,
    ), (400 if form.errors or form_errors else 200)


@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@require("staff")
def edit(org_id: int):
    org = _org_or_404(org_id)
    form = (
        OrganizationForm() if request.method == "POST" else OrganizationForm.for_organization(org)
    )
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(
            services.update_organization, current_user, org, form.to_data(), form=form
        )
        if outcome:
            flash(_("Changes to “%(name)s” saved.", name=org.name), "success")
            return redirect(_after_save_url(org))
        form_errors = outcome.errors
    return render_template(
        "partners/form.html",
        form=form,
        org=org,
        form_errors=form_errors,
        confirm=ConfirmForm(),
        profile_url=optional_url("partners.show", org_id=org.id),
    ), (400 if form.errors or form_errors else 200)


def _archive_or_restore(org_id: int, archive: bool):
    org = _org_or_404(org_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    action = services.archive_organization if archive else services.restore_organization
    outcome = attempt(action, current_user, org)
    if not outcome:
        for message in outcome.errors:
            flash(message, "error")
    elif archive:
        flash(
            _("“%(name)s” archived. It no longer appears in public lists.", name=org.name),
            "success",
        )
    else:
        flash(_("“%(name)s” restored.", name=org.name), "success")
    return redirect(url_for("partners.edit", org_id=org_id))


@bp.route("/<int:org_id>/archive", methods=["POST"])
@require("staff")
def archive(org_id: int):
    return _archive_or_restore(org_id, archive=True)


@bp.route("/<int:org_id>/restore", methods=["POST"])
@require("staff")
def restore(org_id: int):
    return _archive_or_restore(org_id, archive=False)


@bp.route("/<int:org_id>/propose", methods=["GET", "POST"])
@require("signed_in")
def propose_edit(org_id: int):
    """A partner member proposes changes to their own organisation's profile."""
    org = _org_or_404(org_id)
    if not can_view_organization(current_user, org):
        abort(404)
    ensure("propose_organization_edit", org)
    if request.method == "POST":
        form = ProposalForm()
    else:
        form = ProposalForm(obj=org, stakeholder_group=org.stakeholder_group or "")
    form_errors: list[str] = []
    if form.validate_on_submit():
        outcome = attempt(
            services.propose_organization_edit, current_user, org, form.changes(), form=form
        )
        if outcome:
            flash(
                _("Thank you. Your proposed changes were sent to the staff for approval."),
                "success",
            )
            return redirect(url_for("partners.propose_edit", org_id=org_id))
        form_errors = outcome.errors
    history = db.session.scalars(
        select(OrganizationEditProposal)
        .where(OrganizationEditProposal.organization_id == org.id)
        .order_by(OrganizationEditProposal.created_at.desc(), OrganizationEditProposal.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "partners/propose.html",
        form=form,
        org=org,
        form_errors=form_errors,
        history=history,
        profile_url=optional_url("partners.show", org_id=org.id),
    ), (400 if form.errors or form_errors else 200)
