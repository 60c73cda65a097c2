from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.models import utcnow
from portal.core.queue import Queue, register_queue
from portal.extensions import db


class SearchOutbox(db.Model):
    """A pending index change, written in the same transaction as the change itself.

    Applied right after commit; what fails is retried by ``flask search sync``. Rows are keyed
    by document id and coalesced: only the latest state of an object matters.
    """

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(100), index=True)  # e.g. "agreement:42"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    # The job queue's lease and dead letter (portal.core.queue).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<SearchOutbox {self.doc_id} attempts={self.attempts}>"


# Oldest change first; one worker at a time per document (``key``), so an older state never
# lands after a newer one. Retries 5 s, 10, 20, … then hourly; dead letter after 30 failures.
SEARCH_QUEUE = register_queue(
    Queue(
        "search_outbox",
        SearchOutbox,
        first_backoff=timedelta(seconds=5),
        max_backoff=timedelta(hours=1),
        max_attempts=30,
        lease=timedelta(minutes=5),
        key="doc_id",
        order=lambda: (SearchOutbox.id,),
    )
)
