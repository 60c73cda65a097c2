"""Who may manage which users and hand out which roles.

Staff run the partner side of the portal, so they manage partner and reviewer accounts; only
admins create or change staff and admin accounts (DESIGN §2: "admin — users, roles, settings").
"""

from __future__ import annotations

from sqlalchemy import true

from portal.accounts.models import Role, User

STAFF_MANAGED_ROLES = (Role.PARTNER.value, Role.REVIEWER.value)


def _is_authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def can_manage_users(user) -> bool:
    """May open the user list and create users at all."""
    return _is_authenticated(user) and user.is_active and user.is_staff


def can_assign_role(actor, role: str) -> bool:
    if not can_manage_users(actor):
        return False
    if actor.is_admin:
        return role in {r.value for r in Role}
    return role in STAFF_MANAGED_ROLES


def assignable_roles(actor) -> list[str]:
    return [r.value for r in Role if can_assign_role(actor, r.value)]


def can_edit_user(actor, target: User) -> bool:
    """Staff may edit partner and reviewer accounts; admins may edit anyone."""
    if not can_manage_users(actor):
        return False
    return actor.is_admin or target.role in STAFF_MANAGED_ROLES


def can_change_active(actor, target: User) -> bool:
    """Nobody deactivates themselves: an admin could lock the last admin out by accident."""
    return can_edit_user(actor, target) and actor.id != target.id


def visible_users_filter(actor):
    """Every manager sees every account (staff need to know who is staff); others none."""
    if can_manage_users(actor):
        return true()
    return User.id.is_(None)
