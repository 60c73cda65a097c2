"""The rebuild queue of the public open-data files (docs/open-data.md, "After a change")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.models import utcnow
from portal.core.queue import Queue, register_queue
from portal.extensions import db


class OpenDataBuild(db.Model):
    """A rebuild of every public file under /open-data/ for the catalogue state current when
    it runs, written in the transaction of the change that calls for it (so a change that
    rolls back asks for nothing). At most one waits at a time: later changes join it."""

    __tablename__ = "open_data_builds"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The exclusive key: one worker builds the public files at a time.
    scope: Mapped[str] = mapped_column(String(20), default="public")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # A change took something out of the public catalogue (made partners-only or internal,
    # archived, deleted): until this rebuild is done no previous file may be sent.
    withdraws: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    def __repr__(self) -> str:
        return f"<OpenDataBuild {self.id} due {self.next_attempt_at} attempts={self.attempts}>"


# Deleted when done. A failure is retried after 1 min, 2, 4, … (cap 30 min); dead after 5.
# The lease is renewed after every file (the largest takes ~25 s at 100,000 agreements).
BUILDS_QUEUE = register_queue(
    Queue(
        "open_data_builds",
        OpenDataBuild,
        first_backoff=timedelta(minutes=1),
        max_backoff=timedelta(minutes=30),
        max_attempts=5,
        lease=timedelta(minutes=10),
        key="scope",
        order=lambda: (OpenDataBuild.next_attempt_at, OpenDataBuild.id),
    )
)
