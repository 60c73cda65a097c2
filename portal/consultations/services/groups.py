"""Advisory groups and their membership."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.consultations.models import AdvisoryGroup, GroupMember, MemberRole
from portal.consultations.permissions import can_manage_groups
from portal.consultations.services.base import refuse_unless
from portal.core.audit import record_audit, snapshot
from portal.core.models import utcnow
from portal.core.services import ValidationError, actor_id
from portal.extensions import db
from portal.partners.models import STAKEHOLDER_GROUPS, Organization


@dataclass
class GroupData:
    name: str
    description: str = ""
    is_public: bool = True


def _validate_group(data: GroupData, group: AdvisoryGroup | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not name:
        errors["name"] = _("Give the group a name.")
    elif len(name) > 300:
        errors["name"] = _("At most %(n)d characters.", n=300)
    else:
        clash = db.session.scalar(
            select(AdvisoryGroup.id).where(func.lower(AdvisoryGroup.name) == name.lower())
        )
        if clash is not None and (group is None or clash != group.id):
            errors["name"] = _("Another group already has this name.")
    return errors


def create_group(actor, data: GroupData) -> AdvisoryGroup:
    refuse_unless(can_manage_groups(actor), _("Only staff may create advisory groups."))
    errors = _validate_group(data, None)
    if errors:
        raise ValidationError(errors)
    group = AdvisoryGroup(
        name=data.name.strip(),
        description=(data.description or "").strip(),
        is_public=data.is_public,
    )
    db.session.add(group)
    db.session.flush()
    record_audit(
        "create", group, summary=f"Created advisory group {group.name}", actor_id=actor_id(actor)
    )
    return group


def update_group(actor, group: AdvisoryGroup, data: GroupData) -> AdvisoryGroup:
    refuse_unless(can_manage_groups(actor), _("Only staff may edit advisory groups."))
    errors = _validate_group(data, group)
    if errors:
        raise ValidationError(errors)
    fields = ["name", "description", "is_public"]
    before = snapshot(group, fields)
    group.name = data.name.strip()
    group.description = (data.description or "").strip()
    group.is_public = data.is_public
    db.session.flush()
    record_audit(
        "update",
        group,
        before=before,
        after=snapshot(group, fields),
        actor_id=actor_id(actor),
        summary=f"Edited advisory group {group.name}",
    )
    return group


def archive_group(actor, group: AdvisoryGroup, archived: bool = True) -> None:
    refuse_unless(can_manage_groups(actor), _("Only staff may archive advisory groups."))
    group.archived_at = utcnow() if archived else None
    db.session.flush()
    record_audit(
        "archive" if archived else "restore",
        group,
        actor_id=actor_id(actor),
        summary=f"{'Archived' if archived else 'Restored'} advisory group {group.name}",
    )


@dataclass
class MemberData:
    email: str
    role: str = MemberRole.MEMBER.value
    organization_id: int | None = None
    constituency: str | None = None


def add_member(actor, group: AdvisoryGroup, data: MemberData) -> GroupMember:
    refuse_unless(can_manage_groups(actor), _("Only staff may change group membership."))
    errors: dict[str, str] = {}
    email = (data.email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if not email:
        errors["email"] = _("Enter the member's e-mail address.")
    elif user is None:
        errors["email"] = _(
            "No user has the address %(email)s. Create their account first.", email=email
        )
    elif not user.is_active:
        errors["email"] = _("This account is deactivated.")
    try:
        MemberRole(data.role)
    except ValueError:
        errors["role"] = _("Choose a role.")
    if data.constituency and data.constituency not in STAKEHOLDER_GROUPS:
        errors["constituency"] = _("Choose a constituency from the list.")
    if data.organization_id and db.session.get(Organization, data.organization_id) is None:
        errors["organization_id"] = _("Choose an organisation from the list.")
    existing = None
    if user is not None:
        existing = db.session.scalar(
            select(GroupMember).where(
                GroupMember.group_id == group.id, GroupMember.user_id == user.id
            )
        )
        if existing is not None and existing.left_on is None:
            errors["email"] = _("%(name)s is already a member of this group.", name=user.name)
    if errors:
        raise ValidationError(errors)
    if existing is not None:
        # A former member rejoins: one row per (group, user), the history stays on it.
        member = existing
        member.left_on = None
    else:
        member = GroupMember(group=group, user=user)
        db.session.add(member)
    member.role = data.role
    member.organization_id = data.organization_id or None
    member.constituency = data.constituency or None
    member.joined_on = utcnow().date()
    db.session.flush()
    record_audit(
        "add-member",
        group,
        actor_id=actor_id(actor),
        summary=f"{user.email} joined {group.name} as {data.role}",
    )
    return member


def remove_member(actor, member: GroupMember) -> None:
    """Former members keep their row (attendance history refers to them) with ``left_on``."""
    refuse_unless(can_manage_groups(actor), _("Only staff may change group membership."))
    member.left_on = utcnow().date()
    db.session.flush()
    record_audit(
        "remove-member",
        member.group,
        actor_id=actor_id(actor),
        summary=f"{member.user.email} left {member.group.name}",
    )


def current_members(group: AdvisoryGroup) -> list[GroupMember]:
    return [m for m in group.members if m.left_on is None]
