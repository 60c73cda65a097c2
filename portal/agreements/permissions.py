"""Rules for seeing and editing agreements and their documents (DESIGN §2).

- public:   anyone;
- partners: staff and members of an organisation that is a party to the agreement;
- internal: staff only.
Archived agreements are seen by staff only.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from portal.accounts.permissions import is_staff
from portal.agreements.models import Agreement, AgreementParty, Visibility
from portal.core.guard import permission


@permission("view_agreement")
def can_view_agreement(user, agreement: Agreement) -> bool:
    if is_staff(user):
        return True
    if agreement.archived_at is not None:
        return False
    if agreement.visibility == Visibility.PUBLIC:
        return True
    if agreement.visibility == Visibility.PARTNERS and user is not None and user.is_authenticated:
        own = user.organization_id
        return bool(own) and own in agreement.party_organization_ids
    return False


@permission("edit_agreement")
def can_edit_agreement(user, agreement: Agreement | None = None) -> bool:
    return is_staff(user)


def reader_class(user) -> str:
    """Who sees the same agreements and party organisations as ``user``: ``staff``, the members
    of one organisation (``org:<id>``: its partners-only agreements and its own profile even when
    not public), or ``public``. Anything built on ``visible_agreements_filter``,
    ``visible_organizations_filter`` and ``can_view_organization`` is the same for everyone of a
    class, so a cache of it (the export files, docs/open-data.md) is keyed by this."""
    if is_staff(user):
        return "staff"
    org_id = user.organization_id if user is not None and user.is_authenticated else None
    return f"org:{org_id}" if org_id else "public"


# Documents follow their agreement: whoever may see the agreement may download its files.
can_view_document = can_view_agreement


def visible_agreements_filter(user):
    """A WHERE clause limiting agreements to those the user may see."""
    if is_staff(user):
        return Agreement.archived_at.is_(None)
    public = Agreement.visibility == Visibility.PUBLIC.value
    org_id = user.organization_id if user is not None and user.is_authenticated else None
    if org_id:
        # Aliased so the EXISTS never correlates with a caller's own join on agreement_parties.
        party = aliased(AgreementParty)
        own_party = exists(
            select(party.id).where(
                party.agreement_id == Agreement.id,
                party.organization_id == org_id,
            )
        )
        visible = or_(public, and_(Agreement.visibility == Visibility.PARTNERS.value, own_party))
    else:
        visible = public
    return and_(Agreement.archived_at.is_(None), visible)


def agreement_principals(agreement: Agreement) -> list[str]:
    """The principals that may see this agreement, for search documents."""
    if agreement.archived_at is not None or agreement.visibility == Visibility.INTERNAL:
        return ["staff"]
    if agreement.visibility == Visibility.PUBLIC:
        return ["public"]
    return ["staff"] + sorted(f"org:{oid}" for oid in agreement.party_organization_ids)
