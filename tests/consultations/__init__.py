"""Helpers shared by the consultation tests: groups, members and meetings in one line each."""

from __future__ import annotations

from datetime import timedelta

from portal.consultations.models import (
    AdvisoryGroup,
    GroupMember,
    Invitation,
    Meeting,
    MeetingMode,
    MeetingStatus,
)
from portal.core.models import utcnow
from portal.extensions import db


def make_group(
    name: str = "Stakeholder Advisory Group", *, is_public: bool = True
) -> AdvisoryGroup:
    group = AdvisoryGroup(name=name, description="Monthly consultations.", is_public=is_public)
    db.session.add(group)
    db.session.flush()
    return group


def add_member(group: AdvisoryGroup, user, role: str = "member", **kw) -> GroupMember:
    member = GroupMember(group=group, user=user, role=role, **kw)
    db.session.add(member)
    db.session.flush()
    return member


def make_meeting(
    group: AdvisoryGroup,
    *,
    title: str = "Monthly consultation",
    starts_in: timedelta = timedelta(days=10),
    hours: int = 2,
    status: str = MeetingStatus.SCHEDULED.value,
    mode: str = MeetingMode.ONLINE.value,
    capacity: int | None = None,
    reminder_days: int = 2,
    timezone: str = "UTC",
    **kw,
) -> Meeting:
    start = utcnow().replace(microsecond=0) + starts_in
    meeting = Meeting(
        group=group,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        timezone=timezone,
        status=status,
        mode=mode,
        online_url=kw.pop("online_url", "https://meet.example.org/sag"),
        location=kw.pop(
            "location", "Nairobi, UN Gigiri" if mode != MeetingMode.ONLINE.value else None
        ),
        capacity=capacity,
        reminder_days=reminder_days,
        **kw,
    )
    db.session.add(meeting)
    db.session.flush()
    return meeting


def invite_user(meeting: Meeting, user, response: str = "pending", **kw) -> Invitation:
    invitation = Invitation(meeting=meeting, user_id=user.id, response=response, **kw)
    db.session.add(invitation)
    db.session.flush()
    return invitation
