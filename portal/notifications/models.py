from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import utcnow
from portal.extensions import db


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
    attachments = relationship(
        "OutgoingMailAttachment",
        cascade="all, delete-orphan",
        order_by="OutgoingMailAttachment.id",
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return f"<OutgoingMail {self.id} to={self.to_address} sent={bool(self.sent_at)}>"


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
