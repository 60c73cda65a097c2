"""Rules for seeing and editing organisations. Views, the API and search all use these."""

from __future__ import annotations

from sqlalchemy import or_

from portal.accounts.permissions import is_staff
from portal.core.guard import permission
from portal.partners.models import Organization


def _own_org_id(user) -> int | None:
    if user is None or not user.is_authenticated:
        return None
    return user.organization_id


@permission("view_organization")
def can_view_organization(user, org: Organization) -> bool:
    if is_staff(user):
        return True
    if _own_org_id(user) == org.id:
        return True
    return org.is_public and org.archived_at is None


@permission("edit_organization")
def can_edit_organization(user, org: Organization) -> bool:
    """Direct edits are for staff; members of the organisation propose edits instead."""
    return is_staff(user)


@permission("propose_organization_edit")
def can_propose_organization_edit(user, org: Organization) -> bool:
    return _own_org_id(user) == org.id and not is_staff(user)


@permission("view_contact")
def can_view_contact(user, contact) -> bool:
    """Focal points marked public are for everyone; the rest of the address book is staff's."""
    return bool(contact.is_public) or is_staff(user)


def visible_organizations_filter(user):
    """A WHERE clause limiting organisations to those the user may see."""
    if is_staff(user):
        return Organization.archived_at.is_(None)
    public = (Organization.is_public.is_(True)) & (Organization.archived_at.is_(None))
    own = _own_org_id(user)
    if own:
        return or_(public, Organization.id == own)
    return public


def organization_principals(org: Organization) -> list[str]:
    if org.archived_at is not None:
        return ["staff"]
    if org.is_public:
        return ["public"]
    return ["staff", f"org:{org.id}"]
