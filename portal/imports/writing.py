"""Apply a validated ``ImportPlan`` to the database.

Each model mutation lives in one small function (create/update an organisation, create/update an
agreement), so they can later be swapped for the partners/agreements services without touching
the import flow. Nothing here commits: the CLI command or the view commits once.

Fields are compared before they are assigned (validation already computed ``changed_fields``),
so re-importing the same file leaves every row — and its ``updated_at`` — untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.agreements.models import Agreement, AgreementParty, AgreementSdgTarget
from portal.core.models import utcnow
from portal.extensions import db
from portal.imports.validation import ImportPlan, Key, Lookups, PartyRef
from portal.partners.models import Organization

Progress = Callable[[int], None] | None


def create_organization(values: dict[str, Any], lookups: Lookups) -> Organization:
    fields = {k: v for k, v in values.items() if k != "regions"}
    org = Organization(**fields)
    org.regions = [lookups.regions[code] for code in values.get("regions", [])]
    db.session.add(org)
    return org


def update_organization(
    org: Organization, values: dict[str, Any], changed: list[str], lookups: Lookups
) -> None:
    for attr in changed:
        if attr == "regions":
            org.regions = [lookups.regions[code] for code in values["regions"]]
        else:
            setattr(org, attr, values[attr])
    # A change to regions alone does not touch the row, so onupdate would not fire.
    org.updated_at = utcnow()


def create_agreement(
    reference: str, values: dict[str, Any], lookups: Lookups, org_ids: dict[Key, int]
) -> Agreement:
    scalars = {k: v for k, v in values.items() if k not in _COLLECTIONS}
    agreement = Agreement(reference=reference, **scalars)
    _set_collections(agreement, values, lookups, org_ids, list(_COLLECTIONS))
    db.session.add(agreement)
    return agreement


def update_agreement(
    agreement: Agreement,
    values: dict[str, Any],
    changed: list[str],
    lookups: Lookups,
    org_ids: dict[Key, int],
) -> None:
    for attr in changed:
        if attr not in _COLLECTIONS:
            setattr(agreement, attr, values[attr])
    _set_collections(agreement, values, lookups, org_ids, [a for a in changed if a in _COLLECTIONS])
    agreement.updated_at = utcnow()


_COLLECTIONS = ("sdg_targets", "countries", "regions", "parties")


def _set_collections(agreement, values, lookups: Lookups, org_ids: dict[Key, int], attrs) -> None:
    for attr in attrs:
        if attr not in values:
            continue
        if attr == "countries":
            agreement.countries = [lookups.countries[c] for c in values["countries"]]
        elif attr == "regions":
            agreement.regions = [lookups.regions[c] for c in values["regions"]]
        elif attr == "sdg_targets":
            # Reconcile rather than replace: a target row has a composite primary key, and
            # deleting and re-adding the same key in one flush conflicts in the unit of work.
            wanted = set(values["sdg_targets"])
            for item in list(agreement.sdg_targets):
                if item.target not in wanted:
                    agreement.sdg_targets.remove(item)
            have = {t.target for t in agreement.sdg_targets}
            for target in sorted(wanted - have):
                agreement.sdg_targets.append(AgreementSdgTarget(target=target))
        elif attr == "parties":
            wanted = [(_org_id(p, org_ids), p.role) for p in values["parties"]]
            for party in list(agreement.parties):
                if (party.organization_id, party.role) not in wanted:
                    agreement.parties.remove(party)
            have = {(p.organization_id, p.role) for p in agreement.parties}
            for org_id, role in wanted:
                if (org_id, role) not in have:
                    agreement.parties.append(AgreementParty(organization_id=org_id, role=role))


def _org_id(ref: PartyRef, org_ids: dict[Key, int]) -> int:
    return ref.org_id if ref.org_id is not None else org_ids[ref.pending_key]


def write_organizations(
    plan: ImportPlan, lookups: Lookups, progress: Progress = None
) -> dict[Key, int]:
    """Create/update the organisations; returns the ids of all rows by key (for parties)."""
    by_key: dict[Key, Organization] = {}
    for row in plan.rows:
        if row.action == "create":
            org = create_organization(row.values, lookups)
        elif row.action == "update":
            org = row.target
            update_organization(org, row.values, row.changed_fields, lookups)
        else:
            org = row.target
        by_key[row.key] = org
        if progress:
            progress(1)
    # The search outbox rows are written by the after-flush listener (portal/search/outbox.py).
    db.session.flush()
    return {key: org.id for key, org in by_key.items()}


def write_agreements(
    plan: ImportPlan, lookups: Lookups, org_ids: dict[Key, int], progress: Progress = None
) -> None:
    for row in plan.rows:
        if row.action == "create":
            create_agreement(row.key, row.values, lookups, org_ids)
        elif row.action == "update":
            update_agreement(row.target, row.values, row.changed_fields, lookups, org_ids)
        if progress:
            progress(1)
    db.session.flush()
