"""Who may manage which users and hand out which roles.

Staff run the partner side of the portal, so they manage partner and reviewer accounts; only
admins create or change staff and admin accounts (DESIGN §2: "admin — users, roles, settings").
"""

from __future__ import annotations

from sqlalchemy import true

from portal.accounts.models import Role, User
from portal.core.guard import permission

STAFF_MANAGED_ROLES = (Role.PARTNER.value, Role.REVIEWER.value)


STAFF_ROLES = (Role.STAFF.value, Role.ADMIN.value)


def _is_authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


@permission("signed_in")
def is_signed_in(user) -> bool:
    """A signed-in, active account (deactivated accounts cannot sign in, but be sure)."""
    return _is_authenticated(user) and bool(user.is_active)


@permission("staff")
def is_staff(user) -> bool:
    """The one definition of staff: an active account whose role is staff or admin."""
    return is_signed_in(user) and user.role in STAFF_ROLES


@permission("admin")
def is_admin(user) -> bool:
    return is_signed_in(user) and user.role == Role.ADMIN.value


@permission("manage_users")
def can_manage_users(user) -> bool:
    """May open the user list and create users at all."""
    return is_staff(user)


def can_assign_role(actor, role: str) -> bool:
    if not can_manage_users(actor):
        return False
    if is_admin(actor):
        return role in {r.value for r in Role}
    return role in STAFF_MANAGED_ROLES


def assignable_roles(actor) -> list[str]:
    return [r.value for r in Role if can_assign_role(actor, r.value)]


@permission("edit_user")
def can_edit_user(actor, target: User) -> bool:
    """Staff may edit partner and reviewer accounts; admins may edit anyone."""
    if not can_manage_users(actor):
        return False
    return is_admin(actor) or target.role in STAFF_MANAGED_ROLES


def can_give_role(actor, target: User, role: str) -> bool:
    """Nobody changes their own role: an admin could demote the last admin by accident."""
    return actor.id != target.id or role == target.role


def can_change_active(actor, target: User) -> bool:
    """Nobody deactivates themselves: an admin could lock the last admin out by accident."""
    return can_edit_user(actor, target) and actor.id != target.id


def visible_users_filter(actor):
    """Every manager sees every account (staff need to know who is staff); others none."""
    if can_manage_users(actor):
        return true()
    return User.id.is_(None)
