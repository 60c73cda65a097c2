"""Who may run bulk imports: staff only (DESIGN §2). CLI commands run as the operator."""

from __future__ import annotations

from portal.accounts.permissions import is_staff
from portal.core.guard import permission


@permission("import")
def can_import(user) -> bool:
    return is_staff(user)
