from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import TimestampMixin, utcnow
from portal.extensions import db

# The five engagement areas of the seed report, paragraph 37.
ENGAGEMENT_AREAS: dict[str, LazyString] = {
    "resource-mobilisation": _l("Resource mobilisation"),
    "monitoring-reporting": _l("Monitoring and reporting of global commitments"),
    "knowledge-products": _l("Knowledge products (e.g. World Cities Report)"),
    "programme-design": _l("Programme design and implementation"),
    "advocacy": _l("Advocacy and events (e.g. World Urban Forum)"),
}


class MemberRole(enum.StrEnum):
    CHAIR = "chair"
    MEMBER = "member"
    OBSERVER = "observer"
    SECRETARIAT = "secretariat"


class MeetingMode(enum.StrEnum):
    IN_PERSON = "in-person"
    ONLINE = "online"
    HYBRID = "hybrid"


class MeetingStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class AgendaItemStatus(enum.StrEnum):
    PROPOSED = "proposed"  # suggested by a member, awaiting staff
    ACCEPTED = "accepted"
    DECLINED = "declined"


class RsvpResponse(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    EXCUSED = "excused"


class MinutesStatus(enum.StrEnum):
    DRAFT = "draft"
    CIRCULATED = "circulated"  # sent to members for approval
    APPROVED = "approved"
    PUBLISHED = "published"  # locked


class OutcomeKind(enum.StrEnum):
    RECOMMENDATION = "recommendation"
    ACTION = "action"


class OutcomeStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    DROPPED = "dropped"


class AdvisoryGroup(TimestampMixin, db.Model):
    __tablename__ = "advisory_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Public groups show their published minutes and scheduled meetings to everyone;
    # private groups only to their members and staff.
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    members = relationship(
        "GroupMember",
        back_populates="group",
        cascade="all, delete-orphan",
        order_by="GroupMember.id",
    )
    meetings = relationship("Meeting", back_populates="group", order_by="Meeting.starts_at")

    def __repr__(self) -> str:
        return f"<AdvisoryGroup {self.id} {self.name!r}>"


class GroupMember(db.Model):
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("advisory_groups.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=MemberRole.MEMBER.value)
    # The organisation and GAP constituency the member speaks for (may differ from the user's own).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    constituency: Mapped[str | None] = mapped_column(String(40))  # a STAKEHOLDER_GROUPS key
    joined_on: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)  # former members keep their history

    group = relationship("AdvisoryGroup", back_populates="members")
    user = relationship("User")
    organization = relationship("Organization")

    def __repr__(self) -> str:
        return f"<GroupMember group={self.group_id} user={self.user_id} {self.role}>"


class Meeting(TimestampMixin, db.Model):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Language of the text people wrote here (BCP 47); detected when not given.
    language: Mapped[str | None] = mapped_column(String(16))
    __content_text__ = ("description", "title")
    group_id: Mapped[int] = mapped_column(ForeignKey("advisory_groups.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # ENGAGEMENT_AREAS keys, ";"-joined (few values, filtered rarely: a join table is overkill).
    engagement_areas: Mapped[str] = mapped_column(String(300), default="")
    # Stored in UTC; `timezone` (IANA name) is how the meeting is shown and exported.
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    mode: Mapped[str] = mapped_column(String(20), default=MeetingMode.ONLINE.value)
    location: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default=MeetingStatus.DRAFT.value, index=True)
    # In-person seats; beyond it acceptances go to a waiting list. None = unlimited.
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Members may propose agenda items until this moment.
    agenda_cutoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder_days: Mapped[int] = mapped_column(Integer, default=2)
    reminders_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # iCalendar SEQUENCE: bumped whenever time, place, mode or status change, so calendar
    # apps replace their copy of the event instead of keeping a stale one.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    group = relationship("AdvisoryGroup", back_populates="meetings")
    created_by = relationship("User", foreign_keys=[created_by_id])
    agenda_items = relationship(
        "AgendaItem",
        back_populates="meeting",
        cascade="all, delete-orphan",
        order_by="AgendaItem.position",
    )
    invitations = relationship(
        "Invitation",
        back_populates="meeting",
        cascade="all, delete-orphan",
        order_by="Invitation.id",
    )
    attendance = relationship(
        "AttendanceRecord", back_populates="meeting", cascade="all, delete-orphan"
    )
    minutes = relationship(
        "Minutes", back_populates="meeting", uselist=False, cascade="all, delete-orphan"
    )
    outcomes = relationship(
        "Outcome", back_populates="meeting", cascade="all, delete-orphan", order_by="Outcome.id"
    )

    def __repr__(self) -> str:
        return f"<Meeting {self.id} {self.title!r} {self.starts_at:%Y-%m-%d}>"

    @property
    def area_list(self) -> list[str]:
        return [a for a in (self.engagement_areas or "").split(";") if a]


class AgendaItem(db.Model):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    presenter: Mapped[str | None] = mapped_column(String(200))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=AgendaItemStatus.ACCEPTED.value)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(Text)  # why staff declined, if they did
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    meeting = relationship("Meeting", back_populates="agenda_items")
    proposed_by = relationship("User")
    documents = relationship(
        "AgendaDocument",
        back_populates="agenda_item",
        cascade="all, delete-orphan",
        order_by="AgendaDocument.id",
    )

    def __repr__(self) -> str:
        return f"<AgendaItem {self.id} meeting={self.meeting_id} {self.title!r}>"


class AgendaDocument(db.Model):
    """A file attached to an agenda item; stored under UPLOAD_DIR like agreement documents."""

    __tablename__ = "agenda_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    agenda_item = relationship("AgendaItem", back_populates="documents")

    def __repr__(self) -> str:
        return f"<AgendaDocument {self.id} {self.filename!r}>"


class Invitation(db.Model):
    __tablename__ = "meeting_invitations"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    response: Mapped[str] = mapped_column(
        String(20), default=RsvpResponse.PENDING.value, index=True
    )
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    # Accepted in person but beyond capacity: waiting for a seat (promoted in order of response).
    waitlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    attend_in_person: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    meeting = relationship("Meeting", back_populates="invitations")
    user = relationship("User", foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<Invitation meeting={self.meeting_id} user={self.user_id} {self.response}>"


class AttendanceRecord(db.Model):
    __tablename__ = "attendance_records"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # AttendanceStatus
    # True when the attendee confirmed their own presence; the secretariat may still correct it.
    self_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    meeting = relationship("Meeting", back_populates="attendance")
    user = relationship("User", foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<AttendanceRecord meeting={self.meeting_id} user={self.user_id} {self.status}>"


class Minutes(db.Model):
    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Language of the text people wrote here (BCP 47); detected when not given.
    language: Mapped[str | None] = mapped_column(String(16))
    __content_text__ = ("body",)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), unique=True
    )
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown; rendered sanitised
    status: Mapped[str] = mapped_column(String(20), default=MinutesStatus.DRAFT.value, index=True)
    # Optimistic lock: a save must name the version it started from, or it is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    meeting = relationship("Meeting", back_populates="minutes")
    revisions = relationship(
        "MinutesRevision",
        back_populates="minutes",
        cascade="all, delete-orphan",
        order_by="MinutesRevision.version",
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Minutes meeting={self.meeting_id} v{self.version} {self.status}>"


class MinutesRevision(db.Model):
    __tablename__ = "minutes_revisions"
    __table_args__ = (UniqueConstraint("minutes_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(
        ForeignKey("minutes.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    minutes = relationship("Minutes", back_populates="revisions")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<MinutesRevision minutes={self.minutes_id} v{self.version}>"


class Outcome(TimestampMixin, db.Model):
    """A recommendation or an action item arising from a meeting, tracked across the series."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default=OutcomeKind.ACTION.value)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    engagement_area: Mapped[str | None] = mapped_column(String(40))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    owner_organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default=OutcomeStatus.OPEN.value, index=True)

    meeting = relationship("Meeting", back_populates="outcomes")
    owner = relationship("User")
    owner_organization = relationship("Organization")
    notes = relationship(
        "OutcomeNote",
        back_populates="outcome",
        cascade="all, delete-orphan",
        order_by="(OutcomeNote.created_at, OutcomeNote.id)",
    )

    def __repr__(self) -> str:
        return f"<Outcome {self.id} {self.kind} {self.status}>"


class OutcomeNote(db.Model):
    """A progress note on an outcome; may record a status change."""

    __tablename__ = "outcome_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(
        ForeignKey("outcomes.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    outcome = relationship("Outcome", back_populates="notes")
    author = relationship("User")

    def __repr__(self) -> str:
        return f"<OutcomeNote outcome={self.outcome_id}>"


class ConsultationPreference(db.Model):
    """Per-user consultation settings: the time zone meeting times are shown in, and the key
    that signs the personal calendar feed URL (rotating it revokes every old feed link)."""

    __tablename__ = "consultation_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name; None = show UTC
    feed_key: Mapped[str] = mapped_column(String(64))
    feed_key_rotated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"<ConsultationPreference user={self.user_id} tz={self.timezone}>"
