"""Use cases for agreements: create, edit, archive/restore, attach and remove documents.

House recipe: check permission → validate → change → flush → record audit (before/after).
Search outbox rows are written by the flush listeners in portal/search/outbox.py. Nothing here
commits; the caller (view, API, CLI import) commits once. ``actor=None`` is a trusted
command-line caller with no logged-in user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import BinaryIO

import pycountry
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.agreements import documents
from portal.agreements.models import (
    AGREEMENT_STATUSES,
    AGREEMENT_TYPES,
    DOMAINS_OF_CHANGE,
    PARTY_ROLES,
    Agreement,
    AgreementDocument,
    AgreementParty,
    AgreementSdgTarget,
    Visibility,
)
from portal.agreements.permissions import can_edit_agreement
from portal.core.audit import record_audit, snapshot
from portal.core.content_language import check_language
from portal.core.services import (
    PermissionDenied,
    ValidationError,
    actor_id,
    is_trusted,
    set_archived,
)
from portal.extensions import db
from portal.partners.models import Country, Organization, Region

SDG_TARGET_RE = re.compile(r"^\d{1,2}\.(\d{1,2}|[a-z])$")

_AUDITED_FIELDS = [
    "reference",
    "title",
    "summary",
    "agreement_type",
    "status",
    "signed_on",
    "start_on",
    "end_on",
    "amount",
    "currency",
    "domain_of_change",
    "visibility",
    "language",
    "archived_at",
]


@dataclass
class AgreementData:
    """Everything staff can set on an agreement, already parsed into Python types.

    ``parties`` holds (organisation or organisation id, role) pairs.
    """

    reference: str
    title: str
    agreement_type: str
    status: str
    summary: str = ""
    signed_on: date | None = None
    start_on: date | None = None
    end_on: date | None = None
    amount: Decimal | None = None
    currency: str | None = None
    domain_of_change: int | None = None
    visibility: str = Visibility.PUBLIC.value
    language: str | None = None  # of the title and summary; detected when None
    countries: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    sdg_targets: list[str] = field(default_factory=list)
    parties: list[tuple[Organization | int, str]] = field(default_factory=list)

    @classmethod
    def from_agreement(cls, agreement: Agreement) -> AgreementData:
        return cls(
            **{name: getattr(agreement, name) for name in _AUDITED_FIELDS if name != "archived_at"},
            countries=[c.code for c in agreement.countries],
            regions=[r.code for r in agreement.regions],
            sdg_targets=[t.target for t in agreement.sdg_targets],
            parties=[(p.organization_id, p.role) for p in agreement.parties],
        )


def parse_sdg_targets(text: str | None) -> list[str]:
    """ "11.1; 11.3" (or commas, spaces) → ["11.1", "11.3"], duplicates dropped, order kept."""
    parts = re.split(r"[;,\s]+", (text or "").strip())
    return list(dict.fromkeys(p.strip().lower() for p in parts if p.strip()))


def agreement_snapshot(agreement: Agreement) -> dict:
    data = snapshot(agreement, _AUDITED_FIELDS)
    data["countries"] = sorted(c.code for c in agreement.countries)
    data["regions"] = sorted(r.code for r in agreement.regions)
    data["sdg_targets"] = sorted(t.target for t in agreement.sdg_targets)
    # Names, not ids, so the log stays readable; the id disambiguates namesakes.
    data["parties"] = sorted(
        f"{p.organization.name} (#{p.organization_id}) — {p.role}" for p in agreement.parties
    )
    return data


def _valid_sdg_target(target: str) -> bool:
    if not SDG_TARGET_RE.match(target):
        return False
    return 1 <= int(target.split(".")[0]) <= 17


def _validate(
    data: AgreementData, agreement: Agreement | None
) -> tuple[AgreementData, list[Country], list[Region], list[tuple[Organization, str]]]:
    """Normalise and check ``data``; raise ValidationError listing every problem."""
    errors: dict[str, str] = {}
    data.reference = (data.reference or "").strip()
    data.title = (data.title or "").strip()
    data.summary = (data.summary or "").strip()
    data.language = check_language(data.language, errors)
    data.currency = (data.currency or "").strip().upper() or None

    if not data.reference:
        errors["reference"] = _("Enter the agreement's reference.")
    elif len(data.reference) > 100:
        errors["reference"] = _("At most %(n)d characters.", n=100)
    else:
        duplicate = select(Agreement.id).where(
            func.lower(Agreement.reference) == data.reference.lower()
        )
        if agreement is not None and agreement.id is not None:
            duplicate = duplicate.where(Agreement.id != agreement.id)
        if db.session.scalar(duplicate.limit(1)) is not None:
            errors["reference"] = _(
                "Another agreement already uses the reference “%(ref)s”.", ref=data.reference
            )
    if not data.title:
        errors["title"] = _("Enter a title.")
    elif len(data.title) > 500:
        errors["title"] = _("At most %(n)d characters.", n=500)
    if data.agreement_type not in AGREEMENT_TYPES:
        errors["agreement_type"] = _("Choose an agreement type.")
    if data.status not in AGREEMENT_STATUSES:
        errors["status"] = _("Choose a status.")
    if data.visibility not in {v.value for v in Visibility}:
        errors["visibility"] = _("Choose who may see this agreement.")
    if data.start_on and data.end_on and data.end_on < data.start_on:
        errors["end_on"] = _("The end date cannot be before the start date.")

    if data.amount is not None:
        if data.amount < 0:
            errors["amount"] = _("The amount cannot be negative.")
        elif data.amount.as_tuple().exponent < -2 or abs(data.amount) >= Decimal(10) ** 16:
            errors["amount"] = _("Use at most 16 digits and 2 decimals.")
        if not data.currency:
            errors["currency"] = _("Give the currency of the amount (e.g. USD).")
    if data.currency and (
        len(data.currency) != 3 or pycountry.currencies.get(alpha_3=data.currency) is None
    ):
        errors["currency"] = _(
            "“%(code)s” is not an ISO 4217 currency code (e.g. USD, EUR, KES).", code=data.currency
        )

    if data.domain_of_change is not None and data.domain_of_change not in DOMAINS_OF_CHANGE:
        errors["domain_of_change"] = _("The domain of change is a number from 1 to 4.")

    data.sdg_targets = list(
        dict.fromkeys(t.strip().lower() for t in data.sdg_targets if t and t.strip())
    )
    bad_targets = [t for t in data.sdg_targets if not _valid_sdg_target(t)]
    if bad_targets:
        errors["sdg_targets"] = _(
            "Not an SDG target: %(targets)s. Write targets like 11.1 or 11.a (goals 1–17), "
            "separated by “;”.",
            targets=", ".join(bad_targets),
        )

    country_codes = list(
        dict.fromkeys(c.strip().upper() for c in data.countries if c and c.strip())
    )
    countries = (
        list(db.session.scalars(select(Country).where(Country.code.in_(country_codes))))
        if country_codes
        else []
    )
    missing = sorted(set(country_codes) - {c.code for c in countries})
    if missing:
        errors["countries"] = _("Unknown country code(s): %(codes)s.", codes=", ".join(missing))
    region_codes = list(dict.fromkeys(r.strip() for r in data.regions if r and r.strip()))
    regions = (
        list(db.session.scalars(select(Region).where(Region.code.in_(region_codes))))
        if region_codes
        else []
    )
    missing = sorted(set(region_codes) - {r.code for r in regions})
    if missing:
        errors["regions"] = _("Unknown region code(s): %(codes)s.", codes=", ".join(missing))
    data.countries, data.regions = country_codes, region_codes

    parties, party_error = _resolve_parties(data.parties, agreement)
    if party_error:
        errors["parties"] = party_error

    if errors:
        raise ValidationError(errors)
    countries.sort(key=lambda c: country_codes.index(c.code))
    regions.sort(key=lambda r: region_codes.index(r.code))
    return data, countries, regions, parties


def _resolve_parties(
    raw: list[tuple[Organization | int, str]], agreement: Agreement | None
) -> tuple[list[tuple[Organization, str]], str | None]:
    if not raw:
        return [], _("Add at least one party (an organisation and its role).")
    existing_ids = agreement.party_organization_ids if agreement is not None else set()
    resolved: list[tuple[Organization, str]] = []
    seen: set[tuple[int, str]] = set()
    for org_or_id, role in raw:
        org = (
            org_or_id
            if isinstance(org_or_id, Organization)
            else db.session.get(Organization, org_or_id)
        )
        if org is None:
            return [], _("One of the parties is not a known organisation.")
        if role not in PARTY_ROLES:
            return [], _(
                "“%(role)s” is not a party role (funding, accountable, extending or implementing).",
                role=role,
            )
        # An archived organisation may stay on an old agreement but not be added to a new one.
        if org.archived_at is not None and org.id not in existing_ids:
            return [], _("“%(name)s” is archived and cannot be added as a party.", name=org.name)
        if (org.id, role) in seen:
            return [], _(
                "“%(name)s” is listed twice as %(role)s.",
                name=org.name,
                role=PARTY_ROLES[role].lower(),
            )
        seen.add((org.id, role))
        resolved.append((org, role))
    return resolved, None


def _apply(
    agreement: Agreement,
    data: AgreementData,
    countries: list[Country],
    regions: list[Region],
    parties: list[tuple[Organization, str]],
) -> None:
    text_changed = (agreement.title, agreement.summary) != (data.title, data.summary)
    for name in _AUDITED_FIELDS:
        if name != "archived_at":
            setattr(agreement, name, getattr(data, name))
    if data.language is None and text_changed:
        agreement.language = None  # detected again from the new text when flushed
    agreement.countries = countries
    agreement.regions = regions
    # Diff rather than replace child rows: the unit of work inserts before it deletes, so
    # re-adding an unchanged (org, role) or target would hit the unique constraint.
    wanted_targets = set(data.sdg_targets)
    for row in list(agreement.sdg_targets):
        if row.target not in wanted_targets:
            agreement.sdg_targets.remove(row)
    have_targets = {t.target for t in agreement.sdg_targets}
    for target in data.sdg_targets:
        if target not in have_targets:
            agreement.sdg_targets.append(AgreementSdgTarget(target=target))
    wanted_parties = {(org.id, role) for org, role in parties}
    for party in list(agreement.parties):
        if (party.organization_id, party.role) not in wanted_parties:
            agreement.parties.remove(party)
    have_parties = {(p.organization_id, p.role) for p in agreement.parties}
    for org, role in parties:
        if (org.id, role) not in have_parties:
            agreement.parties.append(AgreementParty(organization=org, role=role))


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You may not change agreements."))


def create_agreement(actor, data: AgreementData) -> Agreement:
    _require(is_trusted(actor) or can_edit_agreement(actor))
    data, countries, regions, parties = _validate(data, None)
    agreement = Agreement()
    db.session.add(agreement)
    _apply(agreement, data, countries, regions, parties)
    db.session.flush()
    record_audit(
        "create",
        agreement,
        summary=_l("Created agreement %(ref)s", ref=agreement.reference),
        before={},
        after=agreement_snapshot(agreement),
        actor_id=actor_id(actor),
    )
    return agreement


def update_agreement(actor, agreement: Agreement, data: AgreementData) -> Agreement:
    _require(is_trusted(actor) or can_edit_agreement(actor, agreement))
    data, countries, regions, parties = _validate(data, agreement)
    before = agreement_snapshot(agreement)
    _apply(agreement, data, countries, regions, parties)
    db.session.flush()
    after = agreement_snapshot(agreement)
    if before != after:
        record_audit(
            "update",
            agreement,
            summary=_l("Edited agreement %(ref)s", ref=agreement.reference),
            before=before,
            after=after,
            actor_id=actor_id(actor),
        )
    return agreement


def archive_agreement(actor, agreement: Agreement) -> Agreement:
    _require(is_trusted(actor) or can_edit_agreement(actor, agreement))
    return set_archived(
        actor,
        agreement,
        archived=True,
        snapshot=agreement_snapshot,
        summary=_l("Archived agreement %(ref)s", ref=agreement.reference),
        refusal=_("This agreement is already archived."),
    )


def restore_agreement(actor, agreement: Agreement) -> Agreement:
    _require(is_trusted(actor) or can_edit_agreement(actor, agreement))
    return set_archived(
        actor,
        agreement,
        archived=False,
        snapshot=agreement_snapshot,
        summary=_l("Restored agreement %(ref)s", ref=agreement.reference),
        refusal=_("This agreement is not archived."),
    )


# --- Documents ------------------------------------------------------------------------------


def _document_snapshot(doc: AgreementDocument) -> dict:
    return snapshot(doc, ["id", "title", "filename", "content_type", "size", "sha256"])


def attach_document(
    actor, agreement: Agreement, title: str, stream: BinaryIO, filename: str | None
) -> AgreementDocument:
    """Check the file, write it under a random name, add its row.

    The file is written only after every check passes, and removed again if the row cannot
    be flushed or the transaction ends without a commit (``documents.store_upload``).
    """
    _require(is_trusted(actor) or can_edit_agreement(actor, agreement))
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("Give the document a title.")
    elif len(title) > 300:
        errors["title"] = _("At most %(n)d characters.", n=300)
    doc = documents.store_upload(
        stream,
        filename,
        errors=errors,
        build_row=lambda checked, stored_name: AgreementDocument(
            agreement=agreement,
            title=title,
            filename=checked.display_name,
            stored_name=stored_name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by_id=actor_id(actor),
        ),
    )
    record_audit(
        "add_document",
        agreement,
        summary=_l("Attached “%(title)s” to %(ref)s", title=title, ref=agreement.reference),
        before={},
        after={"document": _document_snapshot(doc)},
        actor_id=actor_id(actor),
    )
    return doc


def remove_document(actor, doc: AgreementDocument) -> str:
    """Delete the row; its file is removed once the deletion is committed (removing it first
    would lose the file if the commit failed). Returns the stored name."""
    agreement = doc.agreement
    _require(is_trusted(actor) or can_edit_agreement(actor, agreement))
    before = {"document": _document_snapshot(doc)}
    stored_name = doc.stored_name
    documents.remove_after_commit(stored_name)
    agreement.documents.remove(doc)
    db.session.delete(doc)
    db.session.flush()
    record_audit(
        "remove_document",
        agreement,
        summary=_l(
            "Removed “%(title)s” from %(ref)s",
            title=before["document"]["title"],
            ref=agreement.reference,
        ),
        before=before,
        after={},
        actor_id=actor_id(actor),
    )
    return stored_name
