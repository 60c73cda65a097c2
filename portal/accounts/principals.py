"""What an account grants in principal strings (``portal.core.principals``)."""

from __future__ import annotations

from portal.accounts.permissions import is_staff
from portal.core.principals import STAFF, org_principal, principal_provider


@principal_provider("accounts")
def account_principals(user) -> set[str]:
    """``staff`` for staff (the one definition: active accounts only), ``org:<id>`` for the
    member of an organisation."""
    found: set[str] = set()
    if user.organization_id:
        found.add(org_principal(user.organization_id))
    if is_staff(user):
        found.add(STAFF)
    return found
