"""A meeting's agenda: items staff add and order, proposals members send and staff decide, and
the documents attached to items."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.agreements import documents
from portal.consultations import services
from portal.consultations.forms import AgendaDocumentForm, AgendaItemForm, DecisionForm
from portal.consultations.models import AgendaDocument, Meeting
from portal.consultations.permissions import can_propose_agenda_item, can_view_agenda_item
from portal.consultations.views.common import (
    bp,
    get_meeting_or_404,
    get_visible_meeting_or_404,
    item_of,
)
from portal.consultations.views.meetings import render_meeting
from portal.core.forms import ConfirmForm
from portal.core.guard import ensure, require
from portal.core.security import safe_document_type
from portal.core.transaction import attempt
from portal.extensions import db


def _agenda_url(meeting: Meeting, anchor: str = "agenda") -> str:
    return url_for("consultations.meeting", meeting_id=meeting.id) + f"#{anchor}"


def _item_data(form: AgendaItemForm) -> services.AgendaItemData:
    return services.AgendaItemData(
        title=form.title.data or "",
        description=form.description.data or "",
        presenter=form.presenter.data,
        duration_minutes=form.duration_minutes.data,
    )


@bp.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@require("manage_meetings")
def add_agenda_item(meeting_id: int):
    meeting = get_meeting_or_404(meeting_id)
    form = AgendaItemForm(prefix="item")
    if form.validate_on_submit():
        if attempt(services.add_agenda_item, current_user, meeting, _item_data(form), form=form):
            flash(_("Agenda item added."), "success")
            return redirect(_agenda_url(meeting), 303)
    return render_meeting(meeting, 400, item_form=form)


@bp.route("/meetings/<int:meeting_id>/agenda/propose", methods=["POST"])
@require("signed_in")
def propose_agenda_item(meeting_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    form = AgendaItemForm(prefix="propose")
    if form.validate_on_submit():
        # PermissionDenied (not a member) is the app-wide 403; "proposals closed" is a field error.
        if attempt(
            services.propose_agenda_item, current_user, meeting, _item_data(form), form=form
        ):
            flash(_("Thank you: your proposal was sent to the secretariat."), "success")
            return redirect(_agenda_url(meeting), 303)
    if not can_propose_agenda_item(current_user, meeting) and not form.errors:
        abort(403)
    return render_meeting(meeting, 400, propose_form=form)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/decide", methods=["POST"])
@require("manage_meetings")
def decide_proposal(meeting_id: int, item_id: int):
    meeting = get_meeting_or_404(meeting_id)
    item = item_of(meeting, item_id)
    form = DecisionForm()
    if not form.validate_on_submit() or form.decision.data not in ("accept", "decline"):
        abort(400)
    accept = form.decision.data == "accept"
    outcome = attempt(services.decide_proposal, current_user, item, accept, form.note.data)
    if outcome:
        flash(_("Proposal accepted.") if accept else _("Proposal declined."), "success")
    else:
        flash(outcome.field_errors.get("note") or _("Could not record the decision."), "error")
    return redirect(_agenda_url(meeting), 303)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/move", methods=["POST"])
@require("manage_meetings")
def move_agenda_item(meeting_id: int, item_id: int):
    meeting = get_meeting_or_404(meeting_id)
    item = item_of(meeting, item_id)
    direction = request.form.get("direction")
    if not ConfirmForm().validate_on_submit() or direction not in ("up", "down"):
        abort(400)
    services.move_agenda_item(current_user, item, direction)
    return redirect(_agenda_url(meeting, f"item-{item.id}"), 303)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/delete", methods=["POST"])
@require("manage_meetings")
def delete_agenda_item(meeting_id: int, item_id: int):
    meeting = get_meeting_or_404(meeting_id)
    item = item_of(meeting, item_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.remove_agenda_item(current_user, item)  # its files go once the delete commits
    flash(_("Agenda item removed."), "success")
    return redirect(_agenda_url(meeting), 303)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/documents", methods=["POST"])
@require("signed_in")
def upload_agenda_document(meeting_id: int, item_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    item = item_of(meeting, item_id)
    ensure("attach_agenda_document", item)
    form = AgendaDocumentForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            form.file.errors = [_("Choose a file to upload.")]
        else:
            # A refused or failed request removes the stored file again (documents.store_upload).
            outcome = attempt(
                services.attach_agenda_document,
                current_user,
                item,
                form.title.data,
                upload.stream,
                upload.filename,
                form=form,
            )
            if outcome:
                flash(_("“%(name)s” attached.", name=outcome.value.filename), "success")
                return redirect(_agenda_url(meeting, f"item-{item.id}"), 303)
            errors = outcome.errors
    return render_meeting(meeting, 400, doc_form=form, doc_item_id=item_id, doc_errors=errors)


@bp.route("/meetings/<int:meeting_id>/documents/<int:doc_id>")
def download_agenda_document(meeting_id: int, doc_id: int):
    meeting = get_visible_meeting_or_404(meeting_id)
    doc = db.session.get(AgendaDocument, doc_id)
    if doc is None or doc.agenda_item.meeting_id != meeting.id:
        abort(404)
    if not can_view_agenda_item(current_user, doc.agenda_item):
        abort(404)  # a proposal's files are as private as the proposal
    response = documents.send_stored(
        doc.stored_name,
        mimetype=safe_document_type(doc.content_type),
        download_name=doc.filename,
        what=f"Agenda document {doc.id}",
    )
    if not meeting.group.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response
