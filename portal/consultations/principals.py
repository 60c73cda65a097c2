"""What advisory-group membership grants in principal strings (``portal.core.principals``)."""

from __future__ import annotations

from sqlalchemy import select

from portal.consultations.models import GroupMember
from portal.core.principals import principal_provider
from portal.extensions import db


@principal_provider("consultations")
def group_principals(user) -> set[str]:
    """``group:<id>`` for each advisory group the user is a current member of (issue 4)."""
    ids = db.session.scalars(
        select(GroupMember.group_id).where(
            GroupMember.user_id == user.id, GroupMember.left_on.is_(None)
        )
    ).all()
    return {f"group:{group_id}" for group_id in ids}
