"""Base model mixins shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimestampMixin:
    # Timezone-aware UTC; SQLite stores it naive, so readers must treat naive values as UTC.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite drops tzinfo; PostgreSQL keeps it. Normalise so comparisons never raise."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
