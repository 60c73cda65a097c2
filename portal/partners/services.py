"""Use cases for organisations: create, edit, archive/restore, and partners' edit proposals.

Each function follows the house recipe — check permission → validate → change → flush →
record audit (with before/after snapshots) — and never commits: the web view, the JSON API
or the CLI command commits once. Search outbox rows follow from the flush
(portal/search/outbox.py). ``actor=None`` is a trusted command-line caller (imports, seeding)
with no logged-in user.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.core.audit import record_audit, snapshot
from portal.core.content_language import check_language
from portal.core.models import utcnow
from portal.core.services import (
    FORM_ERROR,
    PermissionDenied,
    ValidationError,
    actor_id,
    is_trusted,
    set_archived,
)
from portal.extensions import db
from portal.partners.models import (
    ORG_TYPES,
    STAKEHOLDER_GROUPS,
    Country,
    Organization,
    OrganizationEditProposal,
    ProposalStatus,
    Region,
)
from portal.partners.permissions import can_edit_organization, can_propose_organization_edit

# Profile fields a partner member may propose changes to; everything else is staff-only.
PROPOSABLE_FIELDS: tuple[str, ...] = ("acronym", "website", "description", "stakeholder_group")

# Columns captured in the audit log's before/after snapshots (plus region codes).
_AUDITED_FIELDS = [
    "name",
    "acronym",
    "org_type",
    "iati_ref",
    "country_code",
    "stakeholder_group",
    "website",
    "description",
    "partner_since",
    "is_public",
    "archived_at",
]

_MAX_LENGTHS = {"name": 300, "acronym": 50, "iati_ref": 100, "website": 500}


@dataclass
class OrganizationData:
    """Everything staff can set on an organisation, already parsed into Python types."""

    name: str
    org_type: str
    country_code: str | None = None
    acronym: str | None = None
    iati_ref: str | None = None
    stakeholder_group: str | None = None
    website: str | None = None
    description: str = ""
    partner_since: date | None = None
    is_public: bool = True
    language: str | None = None  # of the name and description; detected when None
    regions: list[str] = field(default_factory=list)

    @classmethod
    def from_organization(cls, org: Organization) -> OrganizationData:
        values = {f.name: getattr(org, f.name) for f in fields(cls) if f.name != "regions"}
        return cls(**values, regions=[r.code for r in org.regions])


def organization_snapshot(org: Organization) -> dict:
    data = snapshot(org, _AUDITED_FIELDS)
    data["regions"] = sorted(r.code for r in org.regions)
    return data


def _clean(value: str | None) -> str | None:
    """Trim, and turn empty strings into None so 'cleared' and 'never set' look the same."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def validate_website(url: str | None) -> str | None:
    """An error message, or None when the URL is empty or an absolute http(s) address."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return _("Enter a full web address starting with http:// or https://.")
    if any(ch.isspace() for ch in url):
        return _("A web address cannot contain spaces.")
    return None


def _check_lengths(values: dict[str, str | None], errors: dict[str, str]) -> None:
    for name, limit in _MAX_LENGTHS.items():
        value = values.get(name)
        if value and len(value) > limit and name not in errors:
            errors[name] = _("At most %(n)d characters.", n=limit)


def _validate(
    data: OrganizationData, org: Organization | None
) -> tuple[OrganizationData, list[Region]]:
    """Normalise and check ``data``; raise ValidationError with every problem at once."""
    errors: dict[str, str] = {}
    data.name = (data.name or "").strip()
    data.acronym = _clean(data.acronym)
    data.iati_ref = _clean(data.iati_ref)
    data.website = _clean(data.website)
    data.stakeholder_group = _clean(data.stakeholder_group)
    data.country_code = (_clean(data.country_code) or "").upper() or None
    data.description = (data.description or "").strip()
    data.language = check_language(data.language, errors)

    if not data.name:
        errors["name"] = _("Enter the organisation's name.")
    if data.org_type not in ORG_TYPES:
        errors["org_type"] = _("Choose an organisation type from the IATI list.")
    if data.stakeholder_group is not None and data.stakeholder_group not in STAKEHOLDER_GROUPS:
        errors["stakeholder_group"] = _("Choose one of the stakeholder groups.")
    if data.country_code is not None and db.session.get(Country, data.country_code) is None:
        errors["country_code"] = _("Unknown country code “%(code)s”.", code=data.country_code)
    if message := validate_website(data.website):
        errors["website"] = message
    _check_lengths(vars(data), errors)

    codes = list(dict.fromkeys(c.strip() for c in data.regions if c and c.strip()))
    regions = (
        list(db.session.scalars(select(Region).where(Region.code.in_(codes)))) if codes else []
    )
    missing = sorted(set(codes) - {r.code for r in regions})
    if missing:
        errors["regions"] = _("Unknown region code(s): %(codes)s.", codes=", ".join(missing))
    data.regions = codes

    if "name" not in errors and "country_code" not in errors:
        duplicate = select(Organization.id).where(
            func.lower(Organization.name) == data.name.lower(),
            Organization.country_code.is_(None)
            if data.country_code is None
            else Organization.country_code == data.country_code,
        )
        if org is not None and org.id is not None:
            duplicate = duplicate.where(Organization.id != org.id)
        if db.session.scalar(duplicate.limit(1)) is not None:
            errors["name"] = _("An organisation with this name already exists in this country.")

    if errors:
        raise ValidationError(errors)
    regions.sort(key=lambda r: codes.index(r.code))
    return data, regions


def _apply(org: Organization, data: OrganizationData, regions: list[Region]) -> None:
    text_changed = (org.name, org.description) != (data.name, data.description)
    for f in fields(OrganizationData):
        if f.name != "regions":
            setattr(org, f.name, getattr(data, f.name))
    if data.language is None and text_changed:
        org.language = None  # detected again from the new text when flushed
    org.regions = regions


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You may not change this organisation."))


def create_organization(actor, data: OrganizationData) -> Organization:
    _require(is_trusted(actor) or can_edit_organization(actor, None))
    data, regions = _validate(data, None)
    org = Organization()
    _apply(org, data, regions)
    db.session.add(org)
    db.session.flush()
    record_audit(
        "create",
        org,
        summary=_l("Created organisation “%(name)s”", name=org.name),
        before={},
        after=organization_snapshot(org),
        actor_id=actor_id(actor),
    )
    return org


def update_organization(actor, org: Organization, data: OrganizationData) -> Organization:
    _require(is_trusted(actor) or can_edit_organization(actor, org))
    data, regions = _validate(data, org)
    before = organization_snapshot(org)
    _apply(org, data, regions)
    db.session.flush()
    after = organization_snapshot(org)
    if before != after:
        record_audit(
            "update",
            org,
            summary=_l("Edited organisation “%(name)s”", name=org.name),
            before=before,
            after=after,
            actor_id=actor_id(actor),
        )
    return org


def archive_organization(actor, org: Organization) -> Organization:
    """Archive rather than delete: agreements and the audit log keep pointing at it."""
    _require(is_trusted(actor) or can_edit_organization(actor, org))
    return set_archived(
        actor,
        org,
        archived=True,
        snapshot=organization_snapshot,
        summary=_l("Archived organisation “%(name)s”", name=org.name),
        refusal=_("This organisation is already archived."),
    )


def restore_organization(actor, org: Organization) -> Organization:
    _require(is_trusted(actor) or can_edit_organization(actor, org))
    return set_archived(
        actor,
        org,
        archived=False,
        snapshot=organization_snapshot,
        summary=_l("Restored organisation “%(name)s”", name=org.name),
        refusal=_("This organisation is not archived."),
    )


# --- Partner edit proposals -----------------------------------------------------------------


def _validate_proposed(org: Organization, changes: dict[str, str | None]) -> dict[str, str | None]:
    """Keep the allowed fields that differ from the profile; raise on bad values."""
    errors: dict[str, str] = {}
    unknown = set(changes) - set(PROPOSABLE_FIELDS)
    if unknown:
        errors[FORM_ERROR] = _(
            "These fields cannot be proposed: %(f)s.", f=", ".join(sorted(unknown))
        )
    cleaned: dict[str, str | None] = {}
    for name in PROPOSABLE_FIELDS:
        if name not in changes:
            continue
        value = changes[name]
        value = (value or "").strip() if name == "description" else _clean(value)
        cleaned[name] = value
    if message := validate_website(cleaned.get("website")):
        errors["website"] = message
    group = cleaned.get("stakeholder_group")
    if group is not None and group not in STAKEHOLDER_GROUPS:
        errors["stakeholder_group"] = _("Choose one of the stakeholder groups.")
    _check_lengths(cleaned, errors)
    if errors:
        raise ValidationError(errors)
    # The description column is never NULL ("" when empty); compare like with like.
    current = {
        name: (getattr(org, name) or "") if name == "description" else getattr(org, name)
        for name in cleaned
    }
    return {k: v for k, v in cleaned.items() if v != current[k]}


def propose_organization_edit(
    actor, org: Organization, changes: dict[str, str | None]
) -> OrganizationEditProposal:
    if not can_propose_organization_edit(actor, org):
        raise PermissionDenied(_("Only members of this organisation may propose edits."))
    if org.archived_at is not None:
        raise ValidationError({FORM_ERROR: _("This organisation is archived.")})
    effective = _validate_proposed(org, changes)
    if not effective:
        raise ValidationError({FORM_ERROR: _("Nothing changed: the proposal matches the profile.")})
    proposal = OrganizationEditProposal(
        organization=org,
        proposed_by_id=actor_id(actor),
        changes=effective,
        status=ProposalStatus.PENDING.value,
    )
    db.session.add(proposal)
    db.session.flush()
    record_audit(
        "propose_edit",
        org,
        summary=_l(
            "Proposed an edit to “%(name)s” (proposal #%(id)d)", name=org.name, id=proposal.id
        ),
        before={k: getattr(org, k) for k in effective},
        after=dict(effective),
        actor_id=actor_id(actor),
    )
    return proposal


def _require_pending(proposal: OrganizationEditProposal) -> None:
    if proposal.status != ProposalStatus.PENDING.value:
        raise ValidationError({FORM_ERROR: _("This proposal has already been reviewed.")})


def approve_proposal(
    actor, proposal: OrganizationEditProposal, note: str | None = None
) -> OrganizationEditProposal:
    """Apply the proposed values to the profile; the audit row shows them as a normal edit."""
    org = proposal.organization
    _require(is_trusted(actor) or can_edit_organization(actor, org))
    _require_pending(proposal)
    # Re-check the values: rules may have changed since the partner proposed them.
    changes = {k: v for k, v in (proposal.changes or {}).items() if k in PROPOSABLE_FIELDS}
    _validate_proposed(org, changes)
    before = organization_snapshot(org)
    for name, value in changes.items():
        setattr(org, name, value if name != "description" else (value or ""))
    proposal.status = ProposalStatus.APPROVED.value
    proposal.reviewed_by_id = actor_id(actor)
    proposal.reviewed_at = utcnow()
    proposal.review_note = (note or "").strip() or None
    db.session.flush()
    record_audit(
        "approve_edit",
        org,
        summary=_l("Approved edit proposal #%(id)d for “%(name)s”", id=proposal.id, name=org.name),
        before=before,
        after=organization_snapshot(org),
        actor_id=actor_id(actor),
    )
    from portal.partners.notices import proposal_decided

    proposal_decided(proposal, actor)
    return proposal


def reject_proposal(
    actor, proposal: OrganizationEditProposal, note: str
) -> OrganizationEditProposal:
    org = proposal.organization
    _require(is_trusted(actor) or can_edit_organization(actor, org))
    _require_pending(proposal)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Tell the partner why the proposal is rejected.")})
    proposal.status = ProposalStatus.REJECTED.value
    proposal.reviewed_by_id = actor_id(actor)
    proposal.reviewed_at = utcnow()
    proposal.review_note = note
    db.session.flush()
    record_audit(
        "reject_edit",
        org,
        summary=_l(
            "Rejected edit proposal #%(id)d for “%(name)s”: %(note)s",
            id=proposal.id,
            name=org.name,
            note=note,
        ),
        before={"proposal": proposal.id, "status": ProposalStatus.PENDING.value},
        after={"proposal": proposal.id, "status": proposal.status, "note": note},
        actor_id=actor_id(actor),
    )
    from portal.partners.notices import proposal_decided

    proposal_decided(proposal, actor)
    return proposal


def pending_proposals_count() -> int:
    return (
        db.session.scalar(
            select(func.count(OrganizationEditProposal.id)).where(
                OrganizationEditProposal.status == ProposalStatus.PENDING.value
            )
        )
        or 0
    )
