from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import TimestampMixin, utcnow
from portal.core.queue import Queue, register_queue
from portal.extensions import db


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"  # being prepared by staff, not shown to reviewers
    PUBLISHED = "published"


class BlockKind(enum.StrEnum):
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list-item"
    TABLE = "table"
    FIGURE = "figure"  # a block that is only an image; its text is the alt text


class AudienceKind(enum.StrEnum):
    ALL_PARTNERS = "all-partners"  # every active partner user
    GROUPS = "groups"  # members of chosen advisory groups
    ORGANIZATIONS = (
        "organizations"  # users of organisations matching a filter (region, type, group)
    )
    EMAILS = "emails"  # an uploaded list of addresses
    PUBLIC = "public"  # anyone: readable without an account, any account may comment
    MIXED = "mixed"  # several of the above: {"parts": [{"kind": …, "audience": {…}}, …]}


class RoundStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"  # effective status also depends on opens_at/closes_at
    CLOSED = "closed"


class CommentType(enum.StrEnum):
    GENERAL = "general"
    TECHNICAL = "technical"
    EDITORIAL = "editorial"


class CommentStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # by its author, before the deadline
    HIDDEN = "hidden"  # by a moderator, with a reason the author is told


class Decision(enum.StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_IN_PART = "accepted-in-part"
    NOTED = "noted"
    REJECTED = "rejected"


class Placement(enum.StrEnum):
    PLACED = "placed"
    NEEDS_PLACING = "needs-placing"  # its paragraph vanished in the next version; staff decide


class DraftDocument(TimestampMixin, db.Model):
    __tablename__ = "draft_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str | None] = mapped_column(String(10))  # main language of the text (ISO 639-1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    versions = relationship(
        "DocumentVersion",
        back_populates="document",
        cascade="all, delete-orphan",
        order_by="DocumentVersion.number",
    )

    def __repr__(self) -> str:
        return f"<DraftDocument {self.id} {self.title!r}>"


class DocumentVersion(db.Model):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("draft_documents.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 …
    status: Mapped[str] = mapped_column(String(20), default=VersionStatus.DRAFT.value)
    source_format: Mapped[str] = mapped_column(String(10))  # docx | md | edit (in the browser)
    source_filename: Mapped[str | None] = mapped_column(String(255))
    changelog: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the import could not keep (embedded objects, tracked changes …), shown before
    # publishing: [{"code": …, "count": n, "examples": […]}] (importing.describe_report).
    import_report: Mapped[list | None] = mapped_column(JSON)

    document = relationship("DraftDocument", back_populates="versions")
    sections = relationship(
        "Section",
        back_populates="version",
        cascade="all, delete-orphan",
        order_by="Section.position",
    )
    paragraphs = relationship(
        "Paragraph",
        back_populates="version",
        cascade="all, delete-orphan",
        order_by="Paragraph.position",
    )
    rounds = relationship("ReviewRound", back_populates="version", order_by="ReviewRound.id")

    def __repr__(self) -> str:
        return f"<DocumentVersion doc={self.document_id} v{self.number} {self.status}>"


class Section(db.Model):
    __tablename__ = "document_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("document_versions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(20))  # "一", "II", "3" — as written
    heading: Mapped[str] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer, default=1)

    version = relationship("DocumentVersion", back_populates="sections")
    paragraphs = relationship("Paragraph", back_populates="section", order_by="Paragraph.position")

    def __repr__(self) -> str:
        return f"<Section v={self.version_id} {self.number} {self.heading[:30]!r}>"


class Paragraph(db.Model):
    __tablename__ = "document_paragraphs"
    __table_args__ = (UniqueConstraint("version_id", "anchor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("document_versions.id", ondelete="CASCADE"), index=True
    )
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_sections.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # order within the version
    number: Mapped[int | None] = mapped_column(Integer)  # the paragraph number readers cite
    # Stable across versions when a paragraph is carried over, so links and comments survive.
    anchor: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20), default=BlockKind.PARAGRAPH.value)
    text: Mapped[str] = mapped_column(Text)
    # Tables: {"rows": [[cell, …], …]}; lists: {"ordered": bool, "level": n}.
    extra: Mapped[dict | None] = mapped_column(JSON)
    # The paragraph of the previous version this one continues (None for inserted text).
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_paragraphs.id", ondelete="SET NULL")
    )

    version = relationship("DocumentVersion", back_populates="paragraphs")
    section = relationship("Section", back_populates="paragraphs")

    def __repr__(self) -> str:
        return f"<Paragraph v={self.version_id} §{self.number} {self.anchor}>"


class ReviewImage(db.Model):
    """An image of an imported draft, stored like other uploads and served only to those who
    may see its version."""

    __tablename__ = "review_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("document_versions.id", ondelete="CASCADE"), index=True
    )
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)  # random, under UPLOAD_DIR
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(Text, default="")  # the alt text written in the file
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    version = relationship("DocumentVersion")

    def __repr__(self) -> str:
        return f"<ReviewImage {self.id} v={self.version_id} {self.content_type}>"


class ReviewRound(TimestampMixin, db.Model):
    __tablename__ = "review_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    instructions: Mapped[str] = mapped_column(Text, default="")
    audience_kind: Mapped[str] = mapped_column(String(20))
    # Parameters of the audience: {"group_ids": […]}, {"regions": […], "org_types": […],
    # "stakeholder_groups": […]}, or {"emails": […]}.
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(20), default=RoundStatus.DRAFT.value)
    reviewers_see_each_other: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # A public consultation: the draft, published comments, answers and "what we heard" are
    # readable without an account, and any account may comment (permissions.is_public_round).
    # Set when opened with the "public" audience; reviewers added later do not change it.
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Reviewers may endorse ("+1") other people's comments while the round is open.
    allow_endorsements: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reminder_days: Mapped[int] = mapped_column(Integer, default=3)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    version = relationship("DocumentVersion", back_populates="rounds")
    invitations = relationship(
        "ReviewInvitation", back_populates="round", cascade="all, delete-orphan"
    )
    comments = relationship("Comment", back_populates="round", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<ReviewRound {self.id} {self.title!r} {self.status}>"


class ReviewInvitation(db.Model):
    __tablename__ = "review_invitations"
    __table_args__ = (UniqueConstraint("round_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("review_rounds.id", ondelete="CASCADE"), index=True
    )
    # Invited addresses without an account get one created when they follow their link.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    # SHA-256 of the personal link token (the raw token only ever travels in the e-mail).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    mail_queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A visitor who asked to take part in a public consultation confirms their address by
    # following the e-mailed link before this time (``joining``); None: the link of a staff
    # invitation, which does not expire.
    link_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    round = relationship("ReviewRound", back_populates="invitations")
    user = relationship("User")

    def __repr__(self) -> str:
        return f"<ReviewInvitation round={self.round_id} {self.email}>"


class Comment(db.Model):
    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Language of the text people wrote here (BCP 47); detected when not given.
    language: Mapped[str | None] = mapped_column(String(16))
    __content_text__ = ("body", "proposed_change")
    round_id: Mapped[int] = mapped_column(
        ForeignKey("review_rounds.id", ondelete="CASCADE"), index=True
    )
    # None = a comment on the whole document.
    paragraph_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_paragraphs.id", ondelete="SET NULL"), index=True
    )
    # Where the comment now lives after carrying it onto a later version (None = not carried).
    current_paragraph_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_paragraphs.id", ondelete="SET NULL"), index=True
    )
    placement: Mapped[str] = mapped_column(String(20), default=Placement.PLACED.value, index=True)
    # The later version the comment was last carried to (where current_paragraph_id lives, or
    # whose "needs placing" queue it waits in); None while it is still on its round's version.
    carried_to_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_versions.id", ondelete="SET NULL"), index=True
    )
    # Optional selected range within the paragraph text (character offsets) and its text.
    quote_start: Mapped[int | None] = mapped_column(Integer)
    quote_end: Mapped[int | None] = mapped_column(Integer)
    quoted_text: Mapped[str | None] = mapped_column(Text)
    comment_type: Mapped[str] = mapped_column(String(20), default=CommentType.GENERAL.value)
    body: Mapped[str] = mapped_column(Text)
    proposed_change: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_comments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The author's organisation when they commented (users may change organisation later).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    anonymous: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # hidden from other reviewers, never from staff
    status: Mapped[str] = mapped_column(String(20), default=CommentStatus.ACTIVE.value, index=True)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    round = relationship("ReviewRound", back_populates="comments")
    paragraph = relationship("Paragraph", foreign_keys=[paragraph_id])
    current_paragraph = relationship("Paragraph", foreign_keys=[current_paragraph_id])
    carried_to_version = relationship("DocumentVersion", foreign_keys=[carried_to_version_id])
    author = relationship("User", foreign_keys=[author_id])
    organization = relationship("Organization")
    parent = relationship("Comment", remote_side=[id], back_populates="replies")
    replies = relationship("Comment", back_populates="parent", order_by="Comment.created_at")
    disposition = relationship(
        "Disposition", back_populates="comment", uselist=False, cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Comment {self.id} round={self.round_id} {self.comment_type} {self.status}>"


class Endorsement(db.Model):
    """A reviewer's "+1" on someone else's comment (permissions.can_endorse). One per person
    per comment; withdrawn (deleted) while the round is open."""

    __tablename__ = "comment_endorsements"
    __table_args__ = (UniqueConstraint("comment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("review_comments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The endorser's organisation when they endorsed (users may change organisation later).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    comment = relationship("Comment")
    user = relationship("User")
    organization = relationship("Organization")

    def __repr__(self) -> str:
        return f"<Endorsement comment={self.comment_id} user={self.user_id}>"


class Disposition(db.Model):
    """The secretariat's answer to one comment: the last column of the comment matrix."""

    __tablename__ = "comment_dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("review_comments.id", ondelete="CASCADE"), unique=True
    )
    decision: Mapped[str] = mapped_column(String(20))
    response: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    comment = relationship("Comment", back_populates="disposition")
    decided_by = relationship("User")

    def __repr__(self) -> str:
        return f"<Disposition comment={self.comment_id} {self.decision}>"


class BackgroundJob(db.Model):
    """A long task run by the worker (e.g. inviting 8,000 reviewers), with progress for staff."""

    __tablename__ = "background_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)  # e.g. "review-invitations"
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(
        String(20), default="queued", index=True
    )  # queued/running/done/failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The job queue's columns (portal.core.queue): retries, the worker's lease, dead letter.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<BackgroundJob {self.id} {self.kind} {self.status} {self.done}/{self.total}>"


# A long job holds a 15-minute lease, renewed after every batch (a dead worker's job is taken
# over then). A failing job is retried after 1 min, then 2; the third failure is final
# (status "failed", dead letter).
JOBS_QUEUE = register_queue(
    Queue(
        "review_jobs",
        BackgroundJob,
        first_backoff=timedelta(minutes=1),
        max_backoff=timedelta(minutes=30),
        max_attempts=3,
        lease=timedelta(minutes=15),
        waiting=lambda: BackgroundJob.status.in_(("queued", "running")),
        error_column="error",
        order=lambda: (BackgroundJob.id,),
        revive={"status": "queued", "finished_at": None},
    )
)
