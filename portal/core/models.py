"""Base model mixins shared by every domain."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime

from sqlalchemy import DateTime, inspect
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


_PRESENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> table names


def table_present(connection, name: str) -> bool:
    """Whether the database behind ``connection`` has the table ``name``, for code deployed
    before its migration ran. A positive answer is kept per engine; a negative one is asked
    again, so a database migrated while the process runs is seen."""
    engine = connection.engine
    known = _PRESENT.setdefault(engine, set())
    if name in known:
        return True
    present = inspect(connection).has_table(name)
    if present:
        known.add(name)
    return present
