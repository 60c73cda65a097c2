"""Staff pages: the dashboard, the audit log browser and the queue of partners' edit proposals.

Every route here is for staff only (``@require("staff")``): anonymous visitors are sent to the
login page, everyone else gets 403.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.agreements.models import AGREEMENT_STATUSES, Agreement, Visibility
from portal.core.audit import AuditLog, security_events_filter, visible_audit_filter
from portal.core.guard import can, require
from portal.core.pagination import paginate
from portal.core.routing import MAX_ID
from portal.core.transaction import attempt
from portal.extensions import db
from portal.partners.forms import ReviewProposalForm
from portal.partners.models import Organization, OrganizationEditProposal, ProposalStatus
from portal.partners.services import approve_proposal, pending_proposals_count, reject_proposal

bp = Blueprint("staff", __name__, url_prefix="/staff")


def optional_url(endpoint: str, **values: Any) -> str | None:
    """A link to a page owned by another part of the portal, if that page exists yet."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


# --- Dashboard ------------------------------------------------------------------------------


@bp.route("/")
@require("staff")
def dashboard():
    def count(stmt) -> int:
        return db.session.scalar(stmt) or 0

    live_agreement = Agreement.archived_at.is_(None)
    by_status = dict(
        db.session.execute(
            select(Agreement.status, func.count(Agreement.id))
            .where(live_agreement)
            .group_by(Agreement.status)
        ).all()
    )
    by_visibility = dict(
        db.session.execute(
            select(Agreement.visibility, func.count(Agreement.id))
            .where(live_agreement)
            .group_by(Agreement.visibility)
        ).all()
    )
    figures = {
        "organizations": count(
            select(func.count(Organization.id)).where(Organization.archived_at.is_(None))
        ),
        "agreements": count(select(func.count(Agreement.id)).where(live_agreement)),
        "pending_proposals": pending_proposals_count(),
        "archived_organizations": count(
            select(func.count(Organization.id)).where(Organization.archived_at.is_not(None))
        ),
        "archived_agreements": count(
            select(func.count(Agreement.id)).where(Agreement.archived_at.is_not(None))
        ),
    }
    archived_orgs = db.session.scalars(
        select(Organization)
        .where(Organization.archived_at.is_not(None))
        .order_by(Organization.archived_at.desc())
        .limit(10)
    ).all()
    archived_agreements = db.session.scalars(
        select(Agreement)
        .where(Agreement.archived_at.is_not(None))
        .order_by(Agreement.archived_at.desc())
        .limit(10)
    ).all()
    latest = db.session.scalars(
        select(AuditLog)
        .where(visible_audit_filter(current_user))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(10)
    ).all()
    return render_template(
        "staff/dashboard.html",
        figures=figures,
        by_status=[
            (key, label, by_status.get(key, 0)) for key, label in AGREEMENT_STATUSES.items()
        ],
        by_visibility=[(v.value, by_visibility.get(v.value, 0)) for v in Visibility],
        archived_orgs=archived_orgs,
        archived_agreements=archived_agreements,
        latest=latest,
        imports_url=optional_url("imports.upload"),
        users_url=optional_url("accounts.users"),
        object_url=audit_object_url,
        show_value=show_value,
    )


# --- Audit log ------------------------------------------------------------------------------


def _object_type_labels() -> dict[str, str]:
    """What was changed, in the reader's language (object_type is the model's name)."""
    return {
        "organization": _("Organisation"),
        "agreement": _("Agreement"),
        "user": _("User"),
        "advisorygroup": _("Advisory group"),
        "meeting": _("Meeting"),
        "agendaitem": _("Agenda item"),
        "invitation": _("Invitation"),
        "minutes": _("Minutes"),
        "outcome": _("Recommendation or action"),
        "draftdocument": _("Draft document"),
        "documentversion": _("Document version"),
        "reviewround": _("Review round"),
        "comment": _("Review comment"),
        "demo": _("Demo data"),
        "apitoken": _("API token"),
    }


def _action_labels() -> dict[str, str]:
    """Audit actions (stored as short English verbs) in the reader's language."""
    return {
        "create": pgettext("audit action", "created"),
        "update": pgettext("audit action", "edited"),
        "archive": pgettext("audit action", "archived"),
        "restore": pgettext("audit action", "restored"),
        "delete": pgettext("audit action", "deleted"),
        "import": pgettext("audit action", "imported"),
        "upload": pgettext("audit action", "uploaded"),
        "seed": pgettext("audit action", "demo data loaded"),
        "propose": pgettext("audit action", "proposed"),
        "propose_edit": pgettext("audit action", "change proposed"),
        "approve_edit": pgettext("audit action", "proposed change approved"),
        "reject_edit": pgettext("audit action", "proposed change rejected"),
        "deactivate": pgettext("audit action", "deactivated"),
        "reactivate": pgettext("audit action", "reactivated"),
        "revoke": pgettext("audit action", "revoked"),
        "confirm": pgettext("audit action", "confirmed"),
        "invite": pgettext("audit action", "invited"),
        "rsvp": pgettext("audit action", "answered the invitation"),
        "accept": pgettext("audit action", "accepted"),
        "decline": pgettext("audit action", "declined"),
        "add-member": pgettext("audit action", "member added"),
        "remove-member": pgettext("audit action", "member removed"),
        "add_document": pgettext("audit action", "document attached"),
        "remove_document": pgettext("audit action", "document removed"),
        "attendance": pgettext("audit action", "attendance recorded"),
        "circulate": pgettext("audit action", "circulated for approval"),
        "approve": pgettext("audit action", "approved"),
        "publish": pgettext("audit action", "published"),
        "progress": pgettext("audit action", "progress noted"),
        "open": pgettext("audit action", "opened"),
        "close": pgettext("audit action", "closed"),
        "hide": pgettext("audit action", "hidden"),
        "endorse": pgettext("audit action", "endorsed"),
        "withdraw-endorsement": pgettext("audit action", "endorsement withdrawn"),
        "dispose": pgettext("audit action", "answered"),
        "undispose": pgettext("audit action", "answer withdrawn"),
        "place": pgettext("audit action", "placed in the new version"),
        "carry-comments": pgettext("audit action", "comments carried over"),
        "rotate-feed": pgettext("audit action", "calendar link renewed"),
        "login": pgettext("audit action", "logged in"),
        "login-failed": pgettext("audit action", "login failed"),
        "login-locked": pgettext("audit action", "locked out"),
        "logout": pgettext("audit action", "logged out"),
        "sessions-ended": pgettext("audit action", "sessions ended"),
        "password-change": pgettext("audit action", "password changed"),
        "password-reset": pgettext("audit action", "password reset"),
        "invitation-accepted": pgettext("audit action", "invitation accepted"),
        "role-change": pgettext("audit action", "role changed"),
    }


@bp.app_template_global()
def audit_action_label(action: str) -> str:
    return _action_labels().get(action, action)


@bp.app_template_global()
def audit_object_label(object_type: str) -> str:
    return _object_type_labels().get(object_type, object_type)


def audit_object_url(entry: AuditLog) -> str | None:
    if entry.object_id is None:
        return None
    if entry.object_type == "organization":
        return optional_url("partners.show", org_id=entry.object_id)
    if entry.object_type == "agreement":
        return optional_url("agreements.show", agreement_id=entry.object_id)
    return None


def show_value(value: Any) -> str:
    """Audit snapshots are JSON; print lists and nested values the way people read them."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return "; ".join(show_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    return str(value)


def _parse_day(raw: str | None, name: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Use a date like 2025-03-31.")
        return None


@bp.route("/audit")
@require("staff")
def audit():
    args = request.args
    errors: dict[str, str] = {}
    visible = visible_audit_filter(current_user)
    stmt = select(AuditLog).where(visible)
    security_only = can("admin") and args.get("security") == "1"
    if security_only:
        stmt = stmt.where(security_events_filter())
    object_type = args.get("object_type") or None
    action = args.get("action") or None
    actor = args.get("actor") or None
    object_id = args.get("object_id", type=int)
    if object_id is not None and not 0 < object_id <= MAX_ID:
        errors["object_id"] = _("No record has that id.")
        object_id = -1  # matches nothing, and the database can hold it
    if object_type:
        stmt = stmt.where(AuditLog.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(AuditLog.object_id == object_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor == "system":
        stmt = stmt.where(AuditLog.actor_id.is_(None))
    elif actor and actor.isdigit():
        stmt = stmt.where(AuditLog.actor_id == int(actor))
    day_from = _parse_day(args.get("date_from"), "date_from", errors)
    day_to = _parse_day(args.get("date_to"), "date_to", errors)
    # Dates are whole UTC days, both ends included.
    if day_from:
        stmt = stmt.where(AuditLog.created_at >= datetime.combine(day_from, time.min, UTC))
    if day_to:
        stmt = stmt.where(
            AuditLog.created_at < datetime.combine(day_to + timedelta(days=1), time.min, UTC)
        )
    page = paginate(stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()))

    object_types = db.session.scalars(
        select(AuditLog.object_type).where(visible).distinct().order_by(AuditLog.object_type)
    ).all()
    actions = db.session.scalars(
        select(AuditLog.action).where(visible).distinct().order_by(AuditLog.action)
    ).all()
    actors = db.session.scalars(
        select(User)
        .where(
            User.id.in_(select(AuditLog.actor_id).where(AuditLog.actor_id.is_not(None), visible))
        )
        .order_by(User.name)
    ).all()
    return render_template(
        "staff/audit.html",
        page=page,
        errors=errors,
        object_types=[(t, audit_object_label(t)) for t in object_types],
        actions=[(a, audit_action_label(a)) for a in actions],
        actors=actors,
        filters={
            "object_type": object_type or "",
            "action": action or "",
            "actor": actor or "",
            "date_from": args.get("date_from", ""),
            "date_to": args.get("date_to", ""),
            "object_id": object_id,
            "security": security_only,
        },
        object_url=audit_object_url,
        show_value=show_value,
    )


# --- Proposal queue -------------------------------------------------------------------------


def _proposal_rows(proposal: OrganizationEditProposal) -> list[tuple[str, Any, Any]]:
    """(field, value on the profile now, proposed value) for each proposed field."""
    org = proposal.organization
    return [
        (name, getattr(org, name, None), value) for name, value in (proposal.changes or {}).items()
    ]


def _render_queue(forms: dict[int, ReviewProposalForm] | None = None, status_code: int = 200):
    status = request.args.get("status", ProposalStatus.PENDING.value)
    stmt = select(OrganizationEditProposal)
    if status in {s.value for s in ProposalStatus}:
        stmt = stmt.where(OrganizationEditProposal.status == status)
        order = (
            OrganizationEditProposal.created_at.asc()
            if status == "pending"
            else OrganizationEditProposal.reviewed_at.desc()
        )
    else:
        status = "all"
        order = OrganizationEditProposal.created_at.desc()
    page = paginate(stmt.order_by(order, OrganizationEditProposal.id))
    forms = forms or {}
    for proposal in page.items:
        forms.setdefault(proposal.id, ReviewProposalForm(formdata=None, prefix=f"p{proposal.id}"))
    return (
        render_template(
            "staff/proposals.html",
            page=page,
            status=status,
            forms=forms,
            rows=_proposal_rows,
            show_value=show_value,
        ),
        status_code,
    )


@bp.route("/proposals")
@require("staff")
def proposals():
    return _render_queue()


def _review(proposal_id: int, approve: bool):
    proposal = db.session.get(OrganizationEditProposal, proposal_id) or abort(404)
    form = ReviewProposalForm(prefix=f"p{proposal.id}")
    if not form.validate_on_submit():
        return _render_queue({proposal.id: form}, 400)
    if approve:
        outcome = attempt(approve_proposal, current_user, proposal, form.note.data, form=form)
    else:
        outcome = attempt(reject_proposal, current_user, proposal, form.note.data or "", form=form)
    if not outcome:
        if "note" in outcome.field_errors:  # shown beside the note, in the queue
            return _render_queue({proposal.id: form}, 400)
        for message in outcome.errors:
            flash(message, "error")
        return redirect(url_for("staff.proposals"))
    org_name = proposal.organization.name
    if approve:
        flash(
            _("Approved: the profile of %(name)s now shows the proposed values.", name=org_name),
            "success",
        )
    else:
        flash(_("Rejected the proposal for %(name)s.", name=org_name), "success")
    return redirect(url_for("staff.proposals"))


@bp.route("/proposals/<int:proposal_id>/approve", methods=["POST"])
@require("staff")
def approve(proposal_id: int):
    return _review(proposal_id, approve=True)


@bp.route("/proposals/<int:proposal_id>/reject", methods=["POST"])
@require("staff")
def reject(proposal_id: int):
    return _review(proposal_id, approve=False)
