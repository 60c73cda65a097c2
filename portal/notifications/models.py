from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import utcnow
from portal.core.queue import Queue, register_queue
from portal.extensions import db


def new_message_token() -> str:
    """The local part of a mail's Message-ID, fixed when the mail is queued: a retry after a
    crash re-sends the same Message-ID, so receiving systems can drop the duplicate."""
    return secrets.token_hex(16)


class OutgoingMail(db.Model):
    """One e-mail waiting to be sent (or sent). Written in the same transaction as the action
    that caused it, so a failed SMTP server never loses mail and never fails the action."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # What caused it, e.g. "password-reset", "invitation:meeting:12" — for dedup and reports.
    category: Mapped[str] = mapped_column(String(100), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The job queue's lease and dead letter (portal.core.queue).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_token: Mapped[str] = mapped_column(String(64), default=new_message_token, unique=True)
    # RFC 8058 one-click unsubscribe link for non-essential mail (None = essential mail).
    unsubscribe_url: Mapped[str | None] = mapped_column(String(1000))
    attachments = relationship(
        "OutgoingMailAttachment",
        cascade="all, delete-orphan",
        order_by="OutgoingMailAttachment.id",
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return f"<OutgoingMail {self.id} to={self.to_address} sent={bool(self.sent_at)}>"


# Retries 1 min, 2, 4, … then hourly; dead letter after two days of failures.
MAIL_QUEUE = register_queue(
    Queue(
        "mail_outbox",
        OutgoingMail,
        first_backoff=timedelta(minutes=1),
        max_backoff=timedelta(hours=1),
        max_attempts=48,
        lease=timedelta(minutes=5),
        waiting=lambda: OutgoingMail.sent_at.is_(None),
    )
)


class OutgoingMailAttachment(db.Model):
    """A file sent with a queued e-mail (a meeting's .ics): stored with the mail, so a retry
    days later sends exactly what was queued."""

    __tablename__ = "outgoing_mail_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(
        ForeignKey("outgoing_mail.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))  # e.g. text/calendar; method=PUBLISH
    content: Mapped[bytes] = mapped_column(LargeBinary)


class NotificationPreference(db.Model):
    """How one user wants one kind of notification: immediately, daily, weekly, or never.
    No row = the kind's default (``portal.notifications.kinds``)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (PrimaryKeyConstraint("user_id", "kind"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    delivery: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    def __repr__(self) -> str:
        return f"<NotificationPreference user={self.user_id} {self.kind}={self.delivery}>"


class NotificationEvent(db.Model):
    """One notification for one person. ``dedup_key`` is unique per person, so raising the
    same event twice (a retried request, two workers) never notifies anyone twice. Immediate
    events point at their mail; digest events wait (``digested_at`` None) for the digest."""

    __tablename__ = "notification_events"
    __table_args__ = (UniqueConstraint("user_id", "dedup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    dedup_key: Mapped[str] = mapped_column(String(200))
    delivery: Mapped[str] = mapped_column(String(20), index=True)
    # What the digest groups by: a consultation round, a meeting's group… (key and title).
    group_key: Mapped[str] = mapped_column(String(100), default="")
    group_title: Mapped[str] = mapped_column(String(300), default="")
    # One line in the recipient's language, and the link it leads to.
    summary: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_mail.id", ondelete="SET NULL"))
    digested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    mail = relationship("OutgoingMail")

    def __repr__(self) -> str:
        return f"<NotificationEvent {self.id} user={self.user_id} {self.kind} {self.delivery}>"
