"""Who may see what, expressed as principals.

A viewer holds a set of principals; every searchable or listable thing carries the principals
that may see it. The same strings are used in SQL filters and inside search engines, so the
rules are written once (DESIGN §2).
"""

from __future__ import annotations

PUBLIC = "public"
STAFF = "staff"


def org_principal(org_id: int) -> str:
    return f"org:{org_id}"


def viewer_principals(user) -> set[str]:
    principals = {PUBLIC}
    if user is None or not getattr(user, "is_authenticated", False):
        return principals
    principals.add(f"user:{user.id}")
    if user.organization_id:
        principals.add(org_principal(user.organization_id))
    if user.is_staff:
        principals.add(STAFF)
    return principals
