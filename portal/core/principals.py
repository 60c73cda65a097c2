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
    principals.update(review_round_principals(user))
    principals.update(group_principals(user))
    return principals


def group_principals(user) -> set[str]:
    """``group:<id>`` for each advisory group the user is a current member of (issue 4)."""
    from sqlalchemy import select

    from portal.consultations.models import GroupMember
    from portal.extensions import db

    ids = db.session.scalars(
        select(GroupMember.group_id).where(
            GroupMember.user_id == user.id, GroupMember.left_on.is_(None)
        )
    ).all()
    return {f"group:{group_id}" for group_id in ids}


def review_round_principals(user) -> set[str]:
    """``round:<id>`` for each opened review round the user is invited to.

    One query, cached on ``g`` for the current request (search, suggestions and pages may all
    ask), keyed by request and user so a cached answer never outlives either.
    """
    from flask import g, has_request_context, request
    from sqlalchemy import select

    from portal.extensions import db
    from portal.reviews.models import ReviewRound
    from portal.reviews.permissions import invited_rounds_filter

    current = request._get_current_object() if has_request_context() else None
    cached = g.get("_review_round_principals") if current is not None else None
    # The cache holds the request object itself, so identity (not a reusable id()) is compared.
    if cached is not None and cached[0] is current and cached[1] == user.id:
        return set(cached[2])
    ids = db.session.scalars(select(ReviewRound.id).where(invited_rounds_filter(user))).all()
    found = {f"round:{round_id}" for round_id in ids}
    if current is not None:
        g._review_round_principals = (current, user.id, frozenset(found))
    return found
